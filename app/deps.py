"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from adapters import Adapters, get_adapters


def adapters() -> Adapters:
    return get_adapters()


AdaptersDep = Annotated[Adapters, Depends(adapters)]
