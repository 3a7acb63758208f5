"""config.py: ModelConfig from a plain dict, and KEY=VALUE assignments to a raw mapping."""
import dataclasses
import json

import pytest

from stt_tracker_ros.config import (VARIANTS, ModelConfig, TrackerConfig, apply_override,
                                    model_config_from_dict)


@pytest.mark.parametrize('name', sorted(VARIANTS))
def test_a_config_survives_json(name):
    recorded = json.loads(json.dumps(dataclasses.asdict(VARIANTS[name])))   # tuples -> lists
    assert model_config_from_dict(recorded) == VARIANTS[name]


def test_missing_keys_take_the_defaults_and_unknown_keys_raise():
    assert model_config_from_dict({'hidden_dim': 64}) == ModelConfig(hidden_dim=64)
    with pytest.raises(ValueError, match=r"unknown ModelConfig keys: \['hiden_dim'\]"):
        model_config_from_dict({'hiden_dim': 64})


@pytest.mark.parametrize('make', [
    lambda: ModelConfig(search_factor=0.0), lambda: ModelConfig(search_factor=float('nan')),
    lambda: TrackerConfig(search_factor=-1.0), lambda: TrackerConfig(template_factor=0.0)])
def test_crop_factors_must_be_positive(make):
    with pytest.raises(ValueError, match='positive'):
        make()


def test_the_tracker_takes_the_networks_search_factor_unless_set():
    assert TrackerConfig().search_factor is None
    assert ModelConfig().search_factor == 5.0   # the official test value
    # A checkpoint written before the setting existed records none: it gets STARK's 5.0.
    assert model_config_from_dict({'hidden_dim': 64}).search_factor == 5.0


def test_assignments_reach_nested_mappings_and_list_items_with_yaml_values():
    values = {'datasets': [{'path': 'a'}, {'path': 'b'}]}
    for assignment in ('epochs=2', 'lr=0.5', 'model.hidden_dim=64', 'datasets.1.path=/d',
                       'subset=[x, y]', 'name=', 'flag=true'):
        apply_override(values, assignment)
    assert values == {'datasets': [{'path': 'a'}, {'path': '/d'}], 'epochs': 2, 'lr': 0.5,
                      'model': {'hidden_dim': 64}, 'subset': ['x', 'y'], 'name': None,
                      'flag': True}


@pytest.mark.parametrize('assignment, error', [
    ('epochs', ValueError), ('=2', ValueError), ('datasets.x.path=a', ValueError),
    ('datasets.5.path=a', IndexError), ('epochs.max=3', TypeError),
    ('epochs.max.value=3', AttributeError)])
def test_assignments_that_do_not_fit_raise(assignment, error):
    with pytest.raises(error):
        apply_override({'datasets': [{}], 'epochs': 1}, assignment)
