"""KedaOperator: KEDA from its own Helm chart, at a pinned version, in its namespace.

Optional (`infra.installKeda`): many clusters already run KEDA, installed by the
platform team. `helm.v4.Chart` does not create namespaces, so the component
creates KEDA's. The chart installs KEDA's CRDs (ScaledObject,
TriggerAuthentication), which the platform chart's objects need: deploy the
platform chart after this component.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.labels import object_name

KEDA_REPOSITORY = "https://kedacore.github.io/charts"
KEDA_CHART = "keda"


@dataclass(frozen=True)
class KedaOperatorArgs:
    """Inputs of KedaOperator."""

    version: str
    namespace: pulumi.Input[str] = "keda"
    create_namespace: bool = True


class KedaOperator(pulumi.ComponentResource):
    """The KEDA operator, metrics API server and admission webhooks."""

    TYPE = "bullmq-platform:keda:Operator"

    namespace: pulumi.Output[str]

    def __init__(
        self, name: str, args: KedaOperatorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace: pulumi.Input[str] = args.namespace
        if args.create_namespace:
            ns = k8s.core.v1.Namespace(
                f"{name}-namespace",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace),
                opts=child,
            )
            namespace = ns.metadata.apply(object_name)
        self.chart = k8s.helm.v4.Chart(
            name,
            k8s.helm.v4.ChartArgs(
                chart=KEDA_CHART,
                version=args.version,
                name=KEDA_CHART,
                namespace=namespace,
                repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=KEDA_REPOSITORY),
            ),
            opts=child,
        )
        self.namespace = pulumi.Output.from_input(namespace)
        self.register_outputs({"namespace": self.namespace, "version": args.version})
