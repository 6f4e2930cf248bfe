"""Typed configuration loaded from `config.toml`, with errors that name the key, the value and what is allowed."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config.toml"


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message is meant for the user."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class IngestConfig(_Section):
    shard_size: int = Field(2000, ge=1, le=1_000_000)
    id_field: str = "id"
    source_field: str = "source"
    url_field: str = "url"
    published_at_field: str = "published_at"
    title_field: str = "title"
    text_field: str = "text"
    lang_field: str = "lang"
    txt_sources_file: str = "sources.json"


class NormalizeConfig(_Section):
    headline_max_words: int = Field(20, ge=1, le=200)
    extra_chrome_patterns: list[str] = Field(default_factory=list)
    edge_lines: int = Field(4, ge=0, le=50)
    site_chrome_min_docs: int = Field(3, ge=2)
    site_chrome_min_share: float = Field(0.1, ge=0.0, le=1.0)
    boilerplate_min_sources: int = Field(20, ge=2)
    boilerplate_max_words: int = Field(12, ge=1)
    detect_language: bool = True

    @model_validator(mode="after")
    def _patterns_compile(self) -> NormalizeConfig:
        import re

        for pattern in self.extra_chrome_patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"normalize.extra_chrome_patterns: {pattern!r} is not a valid regex: {exc}") from None
        return self


class SignatureConfig(_Section):
    shingle_size: int = Field(5, ge=1, le=16)
    num_perm: int = Field(128, ge=16, le=1024)
    seed: int = Field(1, ge=0)


class CandidateConfig(_Section):
    threshold: float = Field(0.2, gt=0.0, lt=1.0)
    false_positive_weight: float = Field(0.5, ge=0.0, le=1.0)
    false_negative_weight: float = Field(0.5, ge=0.0, le=1.0)
    bands: int = Field(0, ge=0)
    rows: int = Field(0, ge=0)
    max_bucket_size: int = Field(200, ge=2)
    passage_sample: int = Field(4, ge=0)
    passage_max_df: int = Field(50, ge=2)
    passage_min_shared: int = Field(2, ge=1)

    @model_validator(mode="after")
    def _bands_and_rows_together(self) -> CandidateConfig:
        if (self.bands == 0) != (self.rows == 0):
            raise ValueError("candidates.bands and candidates.rows must both be set (> 0) or both be 0")
        return self


class VerifyConfig(_Section):
    min_signature_matches: int = Field(4, ge=0)
    min_passage_words: int = Field(8, ge=1)
    near_duplicate_containment: float = Field(0.8, gt=0.0, le=1.0)
    partial_min_shared_shingles: int = Field(12, ge=1)
    partial_min_passage_words: int = Field(12, ge=1)


class ClusterConfig(_Section):
    guard_min_size: int = Field(3, ge=2)
    guard_min_edges: int = Field(2, ge=1)


class RunConfig(_Section):
    max_workers: int = Field(2, ge=1, le=64)
    history_days: int = Field(30, ge=0)


class Config(_Section):
    ingest: IngestConfig = IngestConfig()
    normalize: NormalizeConfig = NormalizeConfig()
    signatures: SignatureConfig = SignatureConfig()
    candidates: CandidateConfig = CandidateConfig()
    verify: VerifyConfig = VerifyConfig()
    cluster: ClusterConfig = ClusterConfig()
    run: RunConfig = RunConfig()

    @model_validator(mode="after")
    def _bands_fit_permutations(self) -> Config:
        c = self.candidates
        if c.bands and c.bands * c.rows > self.signatures.num_perm:
            raise ValueError(
                f"candidates.bands x candidates.rows = {c.bands * c.rows} exceeds signatures.num_perm = "
                f"{self.signatures.num_perm}"
            )
        return self


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(p) for p in error["loc"]) or "(file)"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key (value {error.get('input')!r}); check the spelling against config.toml"
    value = error.get("input")
    shown = "" if isinstance(value, dict) else f" = {value!r}"
    return f"{key}{shown}: {error['msg']}"


def validate(data: dict[str, Any], origin: str = "configuration") -> Config:
    """The validated config for `data`, or a ConfigError listing every bad key."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        lines = "\n".join(f"  - {_describe(e)}" for e in exc.errors())
        raise ConfigError(f"invalid {origin}:\n{lines}") from None


def load(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Config from `path` (default: the project's config.toml; built-in defaults if that is absent),
    with `overrides` ({"section.key": value}) applied on top."""
    data: dict[str, Any] = {}
    origin = "built-in defaults"
    if path is not None or DEFAULT_CONFIG_PATH.exists():
        file = Path(path) if path is not None else DEFAULT_CONFIG_PATH
        if not file.is_file():
            raise ConfigError(f"config file not found: {file}")
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {file} is not valid TOML: {exc}") from None
        origin = f"config file {file}"
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        if not key:
            raise ConfigError(f"override {dotted!r} must look like section.key")
        data.setdefault(section, {})[key] = value
    return validate(data, origin)
