"""The package's version: the one source of it. The wheel's metadata (hatch),
the Makefile and the build hook, which stamps it into libsnd.so
(-X main.Version), all read this line; the library is checked against it
when it is loaded."""

__version__ = "0.1.0"
