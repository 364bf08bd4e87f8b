"""A thin wrapper around a Hugging Face ``tokenizers`` tokenizer.json.

The wrapper returns the text pieces only (no special tokens): the runtime adds bos/eos itself
around every window, using the ids from config.json. Truncation and padding stored in the file
are switched off once at load, so a long text is never silently cut; the runtime splits it into
windows instead.

A ``tokenizers.Tokenizer`` can be shared between threads for encoding; this wrapper keeps no
state that changes after construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tokenizers import Tokenizer

from khmer_civic.model.config import TOKENIZER_NAME
from khmer_civic.schema import ModelConfigError


class TokenizerLoadError(ModelConfigError):
    """tokenizer.json is missing, unreadable or disagrees with config.json."""


class TextTokenizer:
    """Turns normalised strings into token id lists, without special tokens."""

    def __init__(self, tokenizer: Tokenizer, source: str = TOKENIZER_NAME) -> None:
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self.source = source

    @classmethod
    def from_file(cls, path: str | Path) -> TextTokenizer:
        """Load a tokenizer.json; raises :class:`TokenizerLoadError` naming the file on failure."""
        path = Path(path)
        if not path.is_file():
            raise TokenizerLoadError(f"{path} does not exist")
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises its own Exception type for unreadable files
            raise TokenizerLoadError(f"{path} is not a readable Hugging Face tokenizers file: {exc}") from exc
        return cls(tokenizer, source=str(path))

    @property
    def vocab_size(self) -> int:
        """Number of ids, added tokens included."""
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def token_for_id(self, token_id: int) -> str | None:
        """The piece behind an id, or ``None`` when the id is outside the vocabulary."""
        return self._tokenizer.id_to_token(token_id)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, special tokens left out."""
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [encoding.ids for encoding in encodings]

    def tokens(self, text: str) -> list[str]:
        """The pieces of one text (for inspection and debugging)."""
        return self._tokenizer.encode(text, add_special_tokens=False).tokens

    def check_special_ids(self, special_ids: dict[str, int]) -> None:
        """Raise if any configured special id (pad/bos/eos) is outside this vocabulary."""
        for role, token_id in special_ids.items():
            if self.token_for_id(token_id) is None:
                raise TokenizerLoadError(
                    f"{self.source}: config.json names {role} token id {token_id}, "
                    f"but the vocabulary has only {self.vocab_size} ids"
                )
