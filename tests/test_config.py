from pathlib import Path

import pytest

from pipeline import config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_project_config_file_is_valid_and_matches_builtin_defaults():
    assert config.load() == config.Config()


def test_bad_value_error_names_key_value_and_rule(tmp_path):
    path = write(tmp_path, "[signatures]\nnum_perm = 3\n")
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    message = str(err.value)
    assert "signatures.num_perm" in message
    assert "= 3" in message
    assert "greater than or equal to 16" in message


def test_unknown_key_is_rejected_with_its_name(tmp_path):
    path = write(tmp_path, "[verify]\nnear_duplicate_containmnet = 0.9\n")
    with pytest.raises(config.ConfigError, match=r"verify\.near_duplicate_containmnet: unknown key"):
        config.load(path)


def test_every_bad_key_is_listed_at_once(tmp_path):
    path = write(tmp_path, "[ingest]\nshard_size = 0\n[candidates]\nthreshold = 1.5\n")
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert "ingest.shard_size" in str(err.value) and "candidates.threshold" in str(err.value)


def test_bands_without_rows_is_an_error():
    with pytest.raises(config.ConfigError, match=r"bands and candidates\.rows"):
        config.load(overrides={"candidates.bands": 10})


def test_bands_times_rows_cannot_exceed_permutations():
    with pytest.raises(config.ConfigError, match=r"exceeds signatures\.num_perm"):
        config.load(overrides={"candidates.bands": 20, "candidates.rows": 8, "signatures.num_perm": 128})


def test_overrides_win_over_file(tmp_path):
    path = write(tmp_path, "[ingest]\nshard_size = 50\n")
    assert config.load(path).ingest.shard_size == 50
    assert config.load(path, {"ingest.shard_size": 7}).ingest.shard_size == 7


def test_missing_file_and_bad_toml_are_clear(tmp_path):
    with pytest.raises(config.ConfigError, match="not found"):
        config.load(tmp_path / "nope.toml")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load(write(tmp_path, "[ingest\n"))
