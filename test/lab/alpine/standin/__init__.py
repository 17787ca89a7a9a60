"""Modules of the Tower lab apk stand-in (see ../apk and ../README.md)."""
