"""The guestbook's one table: the messages visitors leave, each maybe with a file."""

from django.db import models


class Entry(models.Model):
    """One message left in the guestbook."""

    text = models.CharField(max_length=500)
    # Stored by the default file storage (MEDIA_ROOT); any replica may serve the page.
    # The database's own default lets rows be written without the column: by the replicas
    # of the previous release, which still serve while this one's migration has run.
    attachment = models.FileField(upload_to="attachments/%Y/%m/", blank=True, db_default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        # Newest first; id breaks ties between entries created in the same microsecond.
        ordering = ("-created_at", "-id")
        verbose_name_plural = "entries"

    def __str__(self) -> str:
        return self.text
