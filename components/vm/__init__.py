"""The VM target: Debian 12 machines configured over SSH with pulumi-command."""
