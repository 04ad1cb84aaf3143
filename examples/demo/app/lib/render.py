"""Render a flipbook page (demo stand-in for the application's code)."""


def render(page: int) -> str:
    return f"<section class=page>{page}</section>"
