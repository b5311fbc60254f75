"""What the ecr-pull-through-cache policy packs share (README.md): `hardening` and `reading`."""

__version__ = "0.1.0"
