"""What the ecr-pull-through-cache policy packs share (README.md): `hardening`, `reading` and `unknowns`."""

__version__ = "0.1.0"
