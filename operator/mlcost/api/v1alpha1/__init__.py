"""mlcost.io/v1alpha1: MLCostPolicy, EndpointRightsizing and MLCostReport."""

from mlcost.api.v1alpha1.endpointrightsizing import (
    EndpointRightsizing,
    EndpointRightsizingSpec,
    EndpointRightsizingStatus,
)
from mlcost.api.v1alpha1.mlcostpolicy import MLCostPolicy, MLCostPolicySpec, MLCostPolicyStatus
from mlcost.api.v1alpha1.mlcostreport import MLCostReport, MLCostReportSpec, MLCostReportStatus

__all__ = [
    "EndpointRightsizing",
    "EndpointRightsizingSpec",
    "EndpointRightsizingStatus",
    "MLCostPolicy",
    "MLCostPolicySpec",
    "MLCostPolicyStatus",
    "MLCostReport",
    "MLCostReportSpec",
    "MLCostReportStatus",
]
