"""``python -m khmer_civic.cli``: the ``khmer-civic`` command."""

from khmer_civic.cli import main

if __name__ == "__main__":
    main()
