"""Application Auto Scaling for moto: the tags of scalable targets, which moto lacks."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

from moto.applicationautoscaling.models import ApplicationAutoscalingBackend, FakeScalableTarget
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.core.exceptions import JsonRESTError

from ._common import ext_state, original, patch

__all__ = ["install"]

MAX_TAGS = 50

_lock = threading.Lock()


@dataclass
class ScalingTags:
    """Tags per scalable-target ARN, kept on the regional backend (reset with it)."""

    by_arn: dict[str, dict[str, str]] = field(default_factory=dict)


def _tags(backend: ApplicationAutoscalingBackend) -> ScalingTags:
    return ext_state(backend, ScalingTags)


def _target_by_arn(backend: ApplicationAutoscalingBackend, arn: str) -> FakeScalableTarget:
    for by_resource in backend.targets.values():
        for target in by_resource.values():
            if target.arn == arn:
                return target
    raise JsonRESTError("ResourceNotFoundException", f"No scalable target found for ARN: {arn}")


def _check_count(tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise JsonRESTError("TooManyTagsException", f"A scalable target can have at most {MAX_TAGS} tags.")


def _register_scalable_target(self: ApplicationAutoScalingResponse) -> str:
    backend = self.applicationautoscaling_backend
    key = (self._get_param("ScalableDimension"), self._get_param("ResourceId"))
    existed = key[1] in backend.targets.get(key[0], {})
    result: str = original(ApplicationAutoScalingResponse, "register_scalable_target")(self)
    tags = self._get_param("Tags") or {}
    if tags and not existed:
        # AWS applies Tags only when the call creates the target.
        _check_count(tags)
        with _lock:
            _tags(backend).by_arn[json.loads(result)["ScalableTargetARN"]] = dict(tags)
    return result


def _deregister_scalable_target(self: ApplicationAutoScalingResponse) -> str:
    backend = self.applicationautoscaling_backend
    target = backend.targets.get(self._get_param("ScalableDimension"), {}).get(self._get_param("ResourceId"))
    result: str = original(ApplicationAutoScalingResponse, "deregister_scalable_target")(self)
    if target is not None:
        with _lock:
            _tags(backend).by_arn.pop(target.arn, None)
    return result


def _list_tags_for_resource(self: ApplicationAutoScalingResponse) -> str:
    backend = self.applicationautoscaling_backend
    arn = self._get_param("ResourceARN")
    _target_by_arn(backend, arn)
    with _lock:
        return json.dumps({"Tags": dict(_tags(backend).by_arn.get(arn, {}))})


def _tag_resource(self: ApplicationAutoScalingResponse) -> str:
    backend = self.applicationautoscaling_backend
    arn = self._get_param("ResourceARN")
    _target_by_arn(backend, arn)
    with _lock:
        merged = {**_tags(backend).by_arn.get(arn, {}), **(self._get_param("Tags") or {})}
        _check_count(merged)
        _tags(backend).by_arn[arn] = merged
    return json.dumps({})


def _untag_resource(self: ApplicationAutoScalingResponse) -> str:
    backend = self.applicationautoscaling_backend
    arn = self._get_param("ResourceARN")
    _target_by_arn(backend, arn)
    with _lock:
        current = _tags(backend).by_arn.get(arn, {})
        for key in self._get_param("TagKeys") or []:
            current.pop(key, None)
    return json.dumps({})


def install() -> None:
    """Tag scalable targets as the Application Auto Scaling API reference describes.

    RegisterScalableTarget takes Tags when it creates a target (an update leaves the tags
    alone); ListTagsForResource / TagResource / UntagResource work on the target's
    ScalableTargetARN, ResourceNotFoundException for an ARN with no target; deregistering a
    target drops its tags.
    """
    patch(ApplicationAutoScalingResponse, "register_scalable_target", _register_scalable_target)
    patch(ApplicationAutoScalingResponse, "deregister_scalable_target", _deregister_scalable_target)
    patch(ApplicationAutoScalingResponse, "list_tags_for_resource", _list_tags_for_resource)
    patch(ApplicationAutoScalingResponse, "tag_resource", _tag_resource)
    patch(ApplicationAutoScalingResponse, "untag_resource", _untag_resource)
