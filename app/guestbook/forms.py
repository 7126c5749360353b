"""Validation of the "leave a message" form."""

from typing import ClassVar

from django import forms

from guestbook.models import Entry


class EntryForm(forms.ModelForm):
    """Accepts a non-blank message of at most 500 characters, and an optional file."""

    class Meta:
        model = Entry
        fields = ("text", "attachment")
        widgets: ClassVar[dict[str, forms.Widget]] = {
            "text": forms.TextInput(
                attrs={"placeholder": "Say hello", "autocomplete": "off", "autofocus": True}
            ),
        }
        labels: ClassVar[dict[str, str]] = {
            "text": "Your message",
            "attachment": "A file (optional)",
        }
