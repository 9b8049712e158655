"""``python -m data_factory``: the ``snd`` command line (see :mod:`structure_net_data.cli`)."""

from structure_net_data.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
