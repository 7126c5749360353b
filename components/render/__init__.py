"""Pure renderers: plain data in, file contents out. No Pulumi in this package."""
