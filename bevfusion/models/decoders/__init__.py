"""BEV decoders: the SECOND backbone and its FPN neck (registered in MODELS)."""

from .second import SECOND, SECONDFPN

__all__ = ["SECOND", "SECONDFPN"]
