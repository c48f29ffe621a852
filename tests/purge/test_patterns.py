"""Which keys belong to a project: all four historical patterns, and never another project's."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from flaresuite.purge.patterns import (
    InvalidProjectId,
    matching_pattern,
    project_patterns,
    validate_project_id,
)

# Ids that share prefixes with each other and with the patterns' own words, so that overlaps
# would show up if the patterns allowed them.
project_ids = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.-]{0,20}", fullmatch=True),
    st.sampled_from(["1", "12", "123", "12.5", "1-2", "proj1", "projects", "Proj", "PROJ", "p"]),
).filter(lambda project_id: project_id != "proj")
suffixes = st.text(max_size=30)


def test_the_four_patterns_of_project_12():
    assert [(p.name, p.prefix) for p in project_patterns("12")] == [
        ("hierarchical", "projects/12/"),
        ("flat", "12_"),
        ("proj", "proj_12_"),
        ("proj_proj", "proj_proj_12_"),
    ]


@pytest.mark.parametrize(
    ("key", "pattern"),
    [
        ("projects/12/scenes/3/media/a.mp4", "hierarchical"),
        ("12_3_media.mp4", "flat"),
        ("proj_12_3_media.mp4", "proj"),
        ("proj_proj_12_3_media.mp4", "proj_proj"),
    ],
)
def test_each_historical_key_shape_belongs_to_its_project(key, pattern):
    assert matching_pattern(key, "12").name == pattern


@pytest.mark.parametrize(
    "key",
    [
        "proj_123_3_media.mp4",
        "proj_proj_123_media.mp4",
        "123_media.mp4",
        "projects/123/a.mp4",
        "projects/12",
        "projects/12-old/a.mp4",
        "audio/proj_12/a.mp3",
        "xproj_12_a.mp4",
        "12",
        "proj_12",
    ],
)
def test_project_12_does_not_reach_neighbouring_keys(key):
    assert matching_pattern(key, "12") is None


@given(project_ids, st.integers(0, 3), suffixes)
def test_every_key_written_under_a_pattern_belongs_to_its_project(project_id, index, suffix):
    pattern = project_patterns(project_id)[index]
    assert matching_pattern(pattern.prefix + suffix, project_id) == pattern


@given(project_ids, project_ids, st.integers(0, 3), suffixes)
def test_a_key_of_one_project_never_matches_another(owner, other, index, suffix):
    assume(owner != other)
    key = project_patterns(owner)[index].prefix + suffix
    assert matching_pattern(key, other) is None


@given(project_ids)
def test_valid_ids_are_accepted_unchanged(project_id):
    assert validate_project_id(project_id) == project_id


@pytest.mark.parametrize(
    ("project_id", "reason"),
    [
        ("proj_12", "bare id"),
        ("a_b", "bare id"),
        ("12/3", "bare id"),
        ("", "1 to 128"),
        ("x" * 129, "1 to 128"),
        ("-12", "bare id"),
        (".hidden", "bare id"),
        ("proj", "ambiguous"),
        (12, "must be a string"),
        (None, "must be a string"),
    ],
)
def test_ids_whose_patterns_could_overlap_another_projects_are_rejected(project_id, reason):
    with pytest.raises(InvalidProjectId, match=reason):
        validate_project_id(project_id)
