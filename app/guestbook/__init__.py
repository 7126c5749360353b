"""The guestbook app: visitors leave short messages, stored in the database."""
