from torch import nn

from drone_seg.models.optim import parameter_groups


def test_three_groups_hold_weights_norm_weights_and_biases() -> None:
    network = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1, bias=False), nn.GroupNorm(1, 2)
    )
    groups = {group["name"]: group for group in parameter_groups(network, weight_decay=0.01)}
    ids = {name: {id(p) for p in group["params"]} for name, group in groups.items()}
    assert ids["decay"] == {id(network[0].weight), id(network[2].weight)}
    assert ids["norm"] == {id(network[1].weight), id(network[3].weight)}
    assert ids["bias"] == {id(network[0].bias), id(network[1].bias), id(network[3].bias)}
    assert groups["decay"]["weight_decay"] == 0.01
    assert groups["norm"]["weight_decay"] == groups["bias"]["weight_decay"] == 0.0


def test_frozen_parameters_are_left_out() -> None:
    network = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 2, 1))
    network[0].requires_grad_(False)
    params = [p for group in parameter_groups(network, 0.1) for p in group["params"]]
    assert {id(p) for p in params} == {id(network[1].weight), id(network[1].bias)}


def test_a_frozen_weight_does_not_drop_its_modules_trainable_bias() -> None:
    network = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    network[0].weight.requires_grad_(False)
    network[1].weight.requires_grad_(False)
    groups = {group["name"]: group["params"] for group in parameter_groups(network, 0.1)}
    assert groups["decay"] == [] and groups["norm"] == []
    assert [id(p) for p in groups["bias"]] == [id(network[0].bias), id(network[1].bias)]
