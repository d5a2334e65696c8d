"""Endpoints of the runs package."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["runs"])
