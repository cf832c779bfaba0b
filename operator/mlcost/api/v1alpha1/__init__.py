"""mlcost.io/v1alpha1: MLCostPolicy and EndpointRightsizing."""

from mlcost.api.v1alpha1.endpointrightsizing import (
    EndpointRightsizing,
    EndpointRightsizingSpec,
    EndpointRightsizingStatus,
)
from mlcost.api.v1alpha1.mlcostpolicy import MLCostPolicy, MLCostPolicySpec, MLCostPolicyStatus

__all__ = [
    "EndpointRightsizing",
    "EndpointRightsizingSpec",
    "EndpointRightsizingStatus",
    "MLCostPolicy",
    "MLCostPolicySpec",
    "MLCostPolicyStatus",
]
