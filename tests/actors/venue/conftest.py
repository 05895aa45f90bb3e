"""The emulator's fixtures, for tests of the venue clients against it."""

from tests.actors.emulator.conftest import candles_1m, emulator, make_emulator  # noqa: F401
