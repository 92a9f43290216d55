"""Why a file cannot be released in a canonical form."""

from __future__ import annotations

from airlock.formulas import Refused


class CanonicalRefused(Refused):
    """The file holds content a viewer would not show and no canonical copy can be made
    without it: refused at intake, ``str(exc)`` says what was found and what to do."""

    status = 422
    code = "hidden_content"


class ImageTooLarge(CanonicalRefused):
    """An image whose header declares more pixels than the airlock decodes."""

    status = 413
    code = "image_too_large"
