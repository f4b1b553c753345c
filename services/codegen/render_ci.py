"""GitHub Actions of the generated repository: CI on every change, promotion dev -> staging -> prod.

Cloud credentials are always OIDC federation (short-lived, no stored keys); the secrets
named here hold only identifiers (role ARN, provider name, client id), and state-backend
locations are GitHub environment variables, so nothing account-specific is committed.
"""

from __future__ import annotations

from .render_text import fill

ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")

_AUTH = {
    "aws": """      - name: Cloud credentials (OIDC)
        uses: aws-actions/configure-aws-credentials@v6
        with:
          role-to-assume: ${{ secrets.AWS_DEPLOY_ROLE_ARN }}
          aws-region: ${{ vars.AWS_REGION }}""",
    "gcp": """      - name: Cloud credentials (Workload Identity Federation)
        uses: google-github-actions/auth@v3
        with:
          workload_identity_provider: ${{ secrets.GCP_WORKLOAD_IDENTITY_PROVIDER }}
          service_account: ${{ secrets.GCP_DEPLOY_SERVICE_ACCOUNT }}""",
    "azure": """      - name: Cloud credentials (OIDC federated identity)
        uses: azure/login@v3
        with:
          client-id: ${{ secrets.AZURE_CLIENT_ID }}
          tenant-id: ${{ secrets.AZURE_TENANT_ID }}
          subscription-id: ${{ secrets.AZURE_SUBSCRIPTION_ID }}""",
}

_REGISTRY_LOGIN = {
    "aws": """      - name: Registry login
        uses: aws-actions/amazon-ecr-login@v2""",
    "gcp": """      - uses: google-github-actions/setup-gcloud@v3
      - name: Registry login
        run: gcloud auth configure-docker "${{ vars.GCP_REGION }}-docker.pkg.dev" --quiet""",
    "azure": """      - name: Registry login
        run: az acr login --name "${{ vars.ACR_NAME }}\"""",
}

_ENV = {
    "aws": ["AWS_REGION: ${{ vars.AWS_REGION }}"],
    "gcp": ["GOOGLE_CLOUD_PROJECT: ${{ vars.GCP_PROJECT_ID }}"],
    "azure": [
        'ARM_USE_OIDC: "true"',
        "ARM_CLIENT_ID: ${{ secrets.AZURE_CLIENT_ID }}",
        "ARM_TENANT_ID: ${{ secrets.AZURE_TENANT_ID }}",
        "ARM_SUBSCRIPTION_ID: ${{ secrets.AZURE_SUBSCRIPTION_ID }}",
    ],
}


def _backend_args(cloud: str, slug: str, env: str) -> str:
    """`-backend-config` flags; every value is a GitHub variable or derived from the project."""
    pairs = {
        "aws": [("bucket", "${{ vars.TF_STATE_BUCKET }}"), ("key", f"{slug}/{env}.tfstate"),
                ("region", "${{ vars.AWS_REGION }}"), ("dynamodb_table", "${{ vars.TF_LOCK_TABLE }}"),
                ("encrypt", "true")],
        "gcp": [("bucket", "${{ vars.TF_STATE_BUCKET }}"), ("prefix", f"{slug}/{env}")],
        "azure": [("resource_group_name", "${{ vars.TF_STATE_RESOURCE_GROUP }}"),
                  ("storage_account_name", "${{ vars.TF_STATE_STORAGE_ACCOUNT }}"),
                  ("container_name", "tfstate"), ("key", f"{slug}/{env}.tfstate"), ("use_azuread_auth", "true")],
    }[cloud]
    return " ".join(f'-backend-config="{k}={v}"' for k, v in pairs)


def _plan_vars(cloud: str, root_vars: set[str], image: str) -> str:
    flags = []
    if cloud == "gcp":
        flags.append('-var "project_id=${{ vars.GCP_PROJECT_ID }}"')
    if "container_image" in root_vars:
        flags.append(f'-var "container_image={image}"')
    if "github_repository" in root_vars:
        flags.append('-var "github_repository=${{ github.repository }}"')
    return " ".join(flags)


def _env_block(cloud: str) -> str:
    return "\n".join(f"      {line}" for line in _ENV[cloud])


def render_workflows(cloud: str, slug: str, root_vars: set[str]) -> dict[str, str]:
    """`.github/workflows/ci.yml` and `deploy.yml` for the plan's cloud."""
    ci_image = f"${{{{ vars.CONTAINER_REGISTRY }}}}/{slug}-service:${{{{ github.sha }}}}"
    ci = fill("ci/ci.yml", tf_env=_env_block(cloud), auth_steps=_AUTH[cloud],
              backend_args=_backend_args(cloud, slug, "dev"), plan_vars=_plan_vars(cloud, root_vars, ci_image))
    jobs = []
    for i, env in enumerate(ENVIRONMENTS):
        needs = "image" if i == 0 else f"image, {ENVIRONMENTS[i - 1]}"
        jobs.append(fill(
            "ci/deploy_job.yml", env=env, needs=needs, tf_env=_env_block(cloud), auth_steps=_AUTH[cloud],
            backend_args=_backend_args(cloud, slug, env),
            plan_vars=_plan_vars(cloud, root_vars, "${{ needs.image.outputs.image }}"),
        ))
    deploy = fill("ci/deploy.yml", tf_env=_env_block(cloud), auth_steps=_AUTH[cloud],
                  registry_login=_REGISTRY_LOGIN[cloud], slug=slug, deploy_jobs="".join(jobs).rstrip("\n"))
    return {".github/workflows/ci.yml": ci, ".github/workflows/deploy.yml": deploy.rstrip("\n") + "\n"}
