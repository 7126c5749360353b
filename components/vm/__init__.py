"""The VM target: Debian machines configured over SSH with pulumi-command."""
