"""How the deploy workflow reaches the generated inference endpoint, and what the image needs there.

Each serving module decides this by what it builds, and the smoke and load tests must do the
same or the first deploy fails at its smoke test:

- a Lambda function URL with `AWS_IAM` authorisation answers SigV4-signed requests only, and
  a Lambda function runs a web server only through the Lambda Web Adapter extension;
- a SageMaker endpoint is called through the runtime API (SigV4) at `/invocations` only, and
  starts the image as `serve`, asking `/ping`;
- Cloud Run without an `allUsers` invoker answers requests with a Google ID token only;
- a Deployment on the team's Kubernetes cluster has no address outside it: the smoke test calls it
  through a port-forward and the load test runs as a Job inside the cluster;
- an internal load balancer, or ingress closed to the internet because the plan has a private
  network, answers only inside that network: the jobs that call it run on a runner there.

One entry per serving module template; a template without an entry is a test failure, so a
new serving module cannot ship with a smoke test that cannot reach it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from amp_contracts.plan import Plan
from amp_domain.build import built_component

from .render_terraform import module_template

Auth = Literal["none", "aws_sigv4", "google_id_token"]


@dataclass(frozen=True)
class ServingAccess:
    """What a caller outside the service needs to call it."""

    auth: Auth = "none"
    #: The AWS service name a SigV4 signature is computed for (`lambda` for a function URL).
    sigv4_service: str = ""
    #: Reachable only from inside the plan's network (a self-hosted runner there).
    private: bool = False
    #: What the image needs for the platform to run its web server ("" for nothing).
    adapter: Literal["", "lambda_web_adapter", "sagemaker"] = ""
    #: Paths a caller outside reaches: readiness and liveness ("" where the platform exposes
    #: only predictions: SageMaker's runtime API answers /invocations alone), and predictions.
    ready_path: str = "/readyz"
    live_path: str = "/healthz"
    predict_path: str = "/predict"
    #: A Service inside the team's Kubernetes cluster, deployed by the workflow (deploy/kubernetes/).
    in_cluster: bool = False
    #: The module output holding the endpoint's URL or host name ("": none, the SERVICE_URL variable says).
    url_output: str = ""


#: Template (`<cloud>/<module>`, as under templates/terraform) -> access, given whether the plan
#: has a private network.
BY_TEMPLATE: dict[str, Callable[[bool], ServingAccess]] = {
    "aws/serving_online@serverless": lambda _: ServingAccess(
        auth="aws_sigv4", sigv4_service="lambda", adapter="lambda_web_adapter", url_output="endpoint_url"),
    "aws/serving_online@containers": lambda _: ServingAccess(private=True, url_output="endpoint"),
    "aws/serving_online@sagemaker": lambda _: ServingAccess(
        auth="aws_sigv4", sigv4_service="sagemaker", adapter="sagemaker", ready_path="", live_path="",
        predict_path="/invocations", url_output="endpoint_url"),
    # No URL output: the SERVICE_URL variable names what the smoke test calls.
    "aws/serving_online": lambda _: ServingAccess(),
    "aws/serving_online@kubernetes": lambda _: ServingAccess(in_cluster=True),
    "gcp/serving_online@serverless": lambda net: ServingAccess(auth="google_id_token", private=net,
                                                              url_output="service_uri"),
    "gcp/serving_online@kubernetes": lambda _: ServingAccess(in_cluster=True),
    "gcp/serving_online": lambda net: ServingAccess(private=net),
    "azure/serving_online@container_apps": lambda net: ServingAccess(private=net, url_output="endpoint"),
    "azure/serving_online@containers": lambda net: ServingAccess(private=net),
    "azure/serving_online@kubernetes": lambda _: ServingAccess(in_cluster=True),
    "azure/serving_online": lambda net: ServingAccess(private=net, url_output="function_app_hostname"),
}


#: Templates that run the image under a runtime needing a package in it: a Lambda function that is
#: not a web server (the stream consumer) talks to Lambda's runtime API through awslambdaric.
IMAGE_PACKAGES: dict[str, tuple[str, ...]] = {
    "aws/stream_processing": ("awslambdaric>=2.2",),
    "aws/serving_batch": ("awslambdaric>=2.2",),
}


def template_key(path: str) -> str:
    """`terraform/aws/modules/serving_online@serverless.tf` -> `aws/serving_online@serverless`."""
    cloud, _, rest = path.removeprefix("terraform/").partition("/modules/")
    return f"{cloud}/{rest.removesuffix('.tf')}"


def image_packages(plan: Plan) -> tuple[str, ...]:
    """Packages the image needs for every planned module that runs it, in plan order."""
    cloud = plan.cloud.lower()
    keys = [template_key(module_template(cloud, built_component(cloud, c))[0]) for c in plan.components]
    return tuple(dict.fromkeys(p for k in keys for p in IMAGE_PACKAGES.get(k, ())))


def serving_access(plan: Plan) -> ServingAccess | None:
    """The plan's serving endpoint access, or None when the plan serves nothing online."""
    cloud = plan.cloud.lower()
    serving = plan.component("serving_online")
    if serving is None:
        return None
    path, _ = module_template(cloud, built_component(cloud, serving))
    return BY_TEMPLATE[template_key(path)](plan.component("networking_private") is not None)
