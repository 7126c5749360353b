"""The guestbook's one table: the messages visitors leave."""

from django.db import models


class Entry(models.Model):
    """One message left in the guestbook."""

    text = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        # Newest first; id breaks ties between entries created in the same microsecond.
        ordering = ("-created_at", "-id")
        verbose_name_plural = "entries"

    def __str__(self) -> str:
        return self.text
