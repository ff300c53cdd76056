"""Pieces the benchmark scripts share: a fresh PostgreSQL database, waiting for a server."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


async def recreate_database(name: str, admin_url: str = ADMIN_URL) -> str:
    """Drop and create database `name`; returns its URL."""
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


async def wait_until_up(client: httpx.AsyncClient) -> None:
    """Poll the client's server's /healthz until it answers 200 (60 s at most)."""
    async with asyncio.timeout(60):
        while True:
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
