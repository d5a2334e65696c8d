"""Endpoints of the settlement package."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1/medical", tags=["medical"])
