"""The things users do, on the real Pulumi CLI (tests/real_engine.py): preview, up, outputs, verify, reconcile.

The CLI is the one `make tools` builds from the Go module proxy; providers are the stand-ins of tests/standin on
moto. Each test names the user action it replays.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.real_engine import (
    ROOT,
    AwsServer,
    Workspace,
    assert_agree,
    assumed_role_credentials,
    available,
    engine,
    example_copy,
    project_copy,
    ptc_preview,
    real_preview,
    stack_names,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.real_engine,
    pytest.mark.skipif(available() is not None, reason=str(available())),
]


def ptc(*args: str, endpoint: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    from tests.real_engine import CREDENTIALS

    return subprocess.run(
        [sys.executable, "-m", "ptc", *args, "--endpoint-url", endpoint],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **CREDENTIALS, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )


def step_order(up_json: str) -> list[tuple[str, str]]:
    """(operation, resource name) of each step `pulumi up --json` started, in the engine's event order.

    The output is the preview's JSON document, then the update's engine events, one JSON object per line."""
    _, end = json.JSONDecoder().raw_decode(up_json)
    found = []
    for line in up_json[end:].splitlines():
        event = json.loads(line) if line.strip() else {}
        metadata = (event.get("resourcePreEvent") or {}).get("metadata")
        if metadata:
            found.append((event["sequence"], metadata["op"], metadata["urn"].rsplit("::", 1)[-1]))
    return [(op, name) for _, op, name in sorted(found)]


@pytest.mark.parametrize("stack", stack_names())
def test_every_committed_stack_previews_clean_and_ptc_agrees(tmp_path, stack):
    """`pulumi preview --policy-pack policies/security --policy-pack policies/conventions` of each committed stack
    (what `make real-preview STACK=<stack>` runs) passes, and `ptc preview` of the same file agrees with it."""
    with engine(tmp_path) as (workspace, aws):
        project = project_copy(tmp_path / "project", (stack,))
        aws.seed_existing_secrets(project / f"Pulumi.{stack}.yaml")
        workspace.run("stack", "init", stack, cwd=project)
        real = real_preview(workspace, project, stack)
        offline = ptc_preview(project, stack)
    result = real["output"]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert_agree(offline, real, (ROOT / f"Pulumi.{stack}.yaml").read_text())


def test_the_readme_deploy_sequence_previews_clean(tmp_path):
    """README "Deploying for real": `pulumi stack init`, every `pulumi config set` line as written, `pulumi preview`."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Deploying for real", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    steps = [c for c in commands if c.startswith(("pulumi stack init", "pulumi config set"))]
    assert any("--secret" in s for s in steps) and any(s.startswith("pulumi stack init") for s in steps)
    with engine(tmp_path, DOCKER_HUB_TOKEN="dckr_pat_EXAMPLE-readme-not-a-token") as (workspace, _):
        project = project_copy(tmp_path / "project")
        for step in steps:
            words = shlex.split(step.replace('"$DOCKER_HUB_TOKEN"', workspace.env["DOCKER_HUB_TOKEN"]))
            workspace.run(*words[1:], cwd=project)
        stack = next(s for s in steps if s.startswith("pulumi stack init")).split()[3]
        written = yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())
        assert "secure" in written["config"]["ecr-pull-through-cache:credentials"]["docker-hub"]
        result = workspace.run("preview", *workspace.pack_args(), cwd=project, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "dckr_pat_EXAMPLE-readme-not-a-token" not in result.stdout + result.stderr


def test_a_stack_missing_a_required_key_is_refused_by_the_cli(tmp_path):
    """The CLI itself refuses a stack without `environment` (Pulumi.yaml declares it without a default)."""
    with engine(tmp_path) as (workspace, _):
        project = project_copy(tmp_path / "project")
        workspace.run("stack", "init", "qa", cwd=project)
        workspace.run("config", "set", "aws:region", "us-east-2", cwd=project)
        workspace.run("config", "set", "--path", "upstreams[0].kind", "ecr-public", cwd=project)
        result = workspace.run("preview", cwd=project, check=False)
        offline = ptc_preview(project, "qa")["output"]
    assert result.returncode != 0
    assert "Stack 'qa' is missing configuration value 'environment'" in result.stderr
    # ptc refuses the same stack file, before running anything, naming the key.
    assert offline.returncode == 2, offline.stdout + offline.stderr
    assert "ecr-pull-through-cache:environment: is missing" in offline.stdout + offline.stderr


@pytest.fixture(scope="module")
def deployed_dev(tmp_path_factory):
    """The dev stack after `pulumi up` with both packs, and its `pulumi stack output --json`."""
    folder = tmp_path_factory.mktemp("dev")
    aws = AwsServer()
    try:
        workspace = Workspace(folder, aws, GITLAB_TOKEN="glpat-EXAMPLE-provider-credential")
        project = project_copy(folder / "project", ("dev",))
        aws.seed_existing_secrets(project / "Pulumi.dev.yaml")
        workspace.run("stack", "init", "dev", cwd=project)
        up = workspace.run("up", "--yes", "--stack", "dev", *workspace.pack_args(), cwd=project)
        outputs = folder / "outputs.json"
        shown = workspace.run("stack", "output", "--json", "--show-secrets", cwd=project)
        outputs.write_text(shown.stdout)
        yield workspace, aws, project, outputs, up
    finally:
        aws.close()


@pytest.mark.xdist_group("deployed-dev")
def test_up_creates_the_stack_and_ptc_verify_passes(deployed_dev):
    """`pulumi up`, `pulumi stack output --json > outputs.json`, `ptc verify --outputs outputs.json`."""
    workspace, aws, project, outputs, up = deployed_dev
    assert "46 created" in up.stdout, up.stdout[-3000:]
    values = json.loads(outputs.read_text())
    assert values["registry_url"] == "123456789012.dkr.ecr.us-east-2.amazonaws.com"
    # No output holds a token, although `--show-secrets` reveals every secret output.
    assert "EXAMPLE-dev-not-a-real-token" not in outputs.read_text()
    rules = aws.client("ecr", "us-east-2").describe_pull_through_cache_rules()["pullThroughCacheRules"]
    assert sorted(r["ecrRepositoryPrefix"] for r in rules) == sorted(values["upstreams"])
    result = ptc("verify", "--outputs", str(outputs), endpoint=aws.endpoint)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout


@pytest.mark.xdist_group("deployed-dev")
def test_a_second_up_changes_nothing(deployed_dev):
    """`pulumi preview --expect-no-changes` after `pulumi up`: the stand-ins' checked inputs are stable."""
    workspace, _, project, _, _ = deployed_dev
    result = workspace.run("preview", "--expect-no-changes", "--stack", "dev", cwd=project, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.xdist_group("deployed-dev")
def test_ptc_reconcile_converges_the_cached_repositories(deployed_dev):
    """Repositories cached before a template change drift; `ptc reconcile --apply` brings them in line, once."""
    _, aws, _, outputs, _ = deployed_dev
    ecr = aws.client("ecr", "us-east-2")
    for name in ("docker-hub/library/nginx", "quay/prometheus/node-exporter"):
        ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
    ecr.create_repository(repositoryName="unrelated/app")
    drift = ptc("reconcile", "--outputs", str(outputs), "--json", "--fail-on-drift", endpoint=aws.endpoint)
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert {c["repository"] for c in json.loads(drift.stdout)["changes"]} == {
        "docker-hub/library/nginx",
        "quay/prometheus/node-exporter",
    }
    applied = ptc("reconcile", "--outputs", str(outputs), "--apply", endpoint=aws.endpoint)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    again = ptc("reconcile", "--outputs", str(outputs), "--json", "--fail-on-drift", endpoint=aws.endpoint)
    assert again.returncode == 0 and json.loads(again.stdout)["changes"] == [], again.stdout
    assert ecr.describe_repositories(repositoryNames=["unrelated/app"])["repositories"][0]["imageTagMutability"] == (
        "MUTABLE"
    )


@pytest.mark.xdist_group("deployed-dev")
def test_the_consumer_example_reads_the_stack_through_a_stack_reference(deployed_dev, tmp_path):
    """examples/consumer as a second stack on the same backend: StackReference, rewritten images, the policy."""
    workspace, aws, _, outputs, _ = deployed_dev
    consumer = example_copy("consumer", tmp_path / "consumer")
    workspace.run("stack", "init", "dev", cwd=consumer)
    workspace.run("config", "set", "aws:region", "us-east-2", cwd=consumer)
    workspace.run("config", "set", "cacheStack", "organization/ecr-pull-through-cache/dev", cwd=consumer)
    workspace.run("up", "--yes", *workspace.pack_args(), cwd=consumer)
    images = json.loads(workspace.run("stack", "output", "images", "--json", cwd=consumer).stdout)
    registry = json.loads(outputs.read_text())["registry_url"]
    assert images == [f"{registry}/docker-hub/library/nginx:1.27", f"{registry}/github/acme/api:2.4.0"]
    role = json.loads(workspace.run("stack", "output", "execution_role_arn", "--json", cwd=consumer).stdout)
    attached = aws.client("iam", "us-east-2").list_attached_role_policies(RoleName=role.rsplit("/", 1)[1])
    assert set(json.loads(outputs.read_text())["consumer_policy_arns"]) <= {
        p["PolicyArn"] for p in attached["AttachedPolicies"]
    }


AZURE_STACK = {
    "aws:region": "us-east-2",
    "ecr-pull-through-cache:environment": "qa",
    "ecr-pull-through-cache:upstreams": [
        {"kind": "ecr-public"},
        {
            "kind": "azure-container-registry",
            "registry": "acmeprod",
            "username": "ecr-pull-through-cache",
            "token_scopes": ["content/read", "metadata/read"],
        },
    ],
}


def test_changing_an_upstream_replaces_its_rule_delete_first(tmp_path):
    """A new upstream registry behind the same prefix: the rule is replaced, the old one deleted first (AWS
    allows one rule per prefix); the template, whose prefix did not change, stays."""
    with engine(tmp_path) as (workspace, _):
        project = project_copy(tmp_path / "project")
        (project / "Pulumi.qa.yaml").write_text(yaml.safe_dump({"config": AZURE_STACK}))
        workspace.run("stack", "init", "qa", cwd=project)
        workspace.run("config", "set", "--secret", "--path", "credentials.azure", "EXAMPLE-acr-password", cwd=project)
        workspace.run("up", "--yes", cwd=project)
        workspace.run("config", "set", "--path", "upstreams[1].registry", "acmeprod2", cwd=project)
        up = workspace.run("up", "--yes", "--json", cwd=project)
    steps = [(op, name) for op, name in step_order(up.stdout) if name.startswith("qa-azure-")]
    replaced = [op for op, name in steps if name == "qa-azure-rule"]
    assert replaced.index("delete-replaced") < replaced.index("create-replacement"), steps
    assert not any(op.endswith(("replaced", "replacement")) for op, name in steps if name == "qa-azure-template"), steps


def test_the_upstream_grant_example_grants_the_cache_stacks_role(tmp_path):
    """ECR to ECR across accounts, both sides as code: the prod cache stack (account 123456789012) exports
    `upstream_grants`; examples/upstream-grant, deployed with the upstream account's credentials (210987654321),
    reads it through a StackReference and writes that registry's one registry policy."""
    with engine(tmp_path, GITLAB_TOKEN="glpat-EXAMPLE-provider-credential") as (workspace, aws):
        project = project_copy(tmp_path / "project", ("prod",))
        stack_file = project / "Pulumi.prod.yaml"
        aws.seed_existing_secrets(stack_file)
        # The committed ARN names a secret of the example account; point it at the one there, as the file says.
        secrets = aws.client("secretsmanager", "eu-west-1").list_secrets()["SecretList"]
        seeded = next(s["ARN"] for s in secrets if s["Name"] == "ecr-pullthroughcache/prod/gitlab")
        text = stack_file.read_text()
        committed = next(w for w in text.split() if w.startswith("arn:aws:secretsmanager:"))
        stack_file.write_text(text.replace(committed, seeded))
        workspace.run("stack", "init", "prod", cwd=project)
        workspace.run("up", "--yes", *workspace.pack_args(), cwd=project)
        grants = json.loads(workspace.run("stack", "output", "upstream_grants", "--json", cwd=project).stdout)
        assert list(grants) == ["210987654321.dkr.ecr.eu-west-1.amazonaws.com"]

        upstream = Workspace(tmp_path / "upstream", aws, **assumed_role_credentials(aws, "210987654321", "eu-west-1"))
        upstream.env["PULUMI_BACKEND_URL"] = workspace.env["PULUMI_BACKEND_URL"]  # one backend: StackReference
        grant = example_copy("upstream-grant", tmp_path / "grant")
        shutil.copy2(ROOT / "examples" / "upstream-grant" / "Pulumi.dev.yaml", grant / "Pulumi.dev.yaml")
        upstream.run("stack", "init", "dev", cwd=grant)
        upstream.run("config", "set", "--path", "cacheStacks[0]", "organization/ecr-pull-through-cache/prod", cwd=grant)
        upstream.run("up", "--yes", *upstream.pack_args(), cwd=grant)
        ecr = aws.client("ecr", "eu-west-1")
        role_arn = json.loads(workspace.run("stack", "output", "upstreams", "--json", cwd=project).stdout)["golden"][
            "custom_role_arn"
        ]
        assumed = assumed_role_credentials(aws, "210987654321", "eu-west-1")
        import boto3

        policy = boto3.client(
            "ecr",
            region_name="eu-west-1",
            endpoint_url=aws.endpoint,
            aws_access_key_id=assumed["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=assumed["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=assumed["AWS_SESSION_TOKEN"],
        ).get_registry_policy()
        assert policy["registryId"] == "210987654321"
        statements = json.loads(policy["policyText"])["Statement"]
        principals = json.dumps([s.get("Principal") for s in statements])
        assert role_arn in principals, statements
        assert any(s.get("Sid") == "ReplicateToDisasterRecovery" for s in statements), statements
        # The cache account's own registry has no policy: the grant lives only where the images are.
        with pytest.raises(ecr.exceptions.RegistryPolicyNotFoundException):
            ecr.get_registry_policy()


def test_the_typescript_example_through_the_plugin_package(tmp_path):
    """examples/typescript as its README runs it: `pulumi package add` of the components (the SDK generated by the
    CLI through the Node.js host, the schema from the Python plugin), `npm install`, `tsc`, then `pulumi preview`
    through the Node.js language host with both packs."""
    with engine(tmp_path) as (workspace, _):
        app = tmp_path / "app"
        shutil.copytree(
            ROOT / "examples" / "typescript", app, ignore=shutil.ignore_patterns("node_modules", "sdks", "bin")
        )
        project = yaml.safe_load((app / "Pulumi.yaml").read_text())
        project.pop("packages")  # `pulumi package add` writes it back
        (app / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
        workspace.run("package", "add", str(ROOT / "components"), cwd=app)
        assert yaml.safe_load((app / "Pulumi.yaml").read_text())["packages"]["ecr-pull-through-cache"]
        assert (app / "sdks" / "ecr-pull-through-cache" / "pullThroughCache.ts").is_file()

        def npm(*args: str) -> None:
            done = subprocess.run(args, cwd=app, env=workspace.env, capture_output=True, text=True, timeout=900)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

        npm("npm", "install", "--no-audit", "--no-fund")
        npm("node_modules/.bin/tsc")
        assert (app / "bin" / "index.js").is_file()
        workspace.run("stack", "init", "dev", cwd=app)
        workspace.run("config", "set", "aws:region", "us-east-2", cwd=app)
        workspace.run("config", "set", "--secret", "dockerHubToken", "dckr_pat_EXAMPLE-ts-not-a-token", cwd=app)
        result = workspace.run("preview", *workspace.pack_args(), cwd=app, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "ecr-pull-through-cache:index:PullThroughCache dev" in result.stdout
    assert "aws:ecr:PullThroughCacheRule dev-docker-hub-rule" in result.stdout
    assert "dckr_pat_EXAMPLE-ts-not-a-token" not in result.stdout + result.stderr


def test_account_ids_set_with_config_path_arrive_as_integers_and_are_accepted(tmp_path):
    """`pulumi config set --path` stores 210987654321 as an integer (sdk/go/common/resource/config/object.go,
    coerce); the program takes a 12-digit integer as the account id it was written as."""
    with engine(tmp_path) as (workspace, _):
        project = project_copy(tmp_path / "project")
        workspace.run("stack", "init", "qa", cwd=project)
        for args in (
            ("aws:region", "us-east-2"),
            ("environment", "qa"),
            ("--path", "upstreams[0].kind", "ecr-public"),
            ("--path", "upstreams[1].kind", "ecr"),
            ("--path", "upstreams[1].prefix", "golden"),
            ("--path", "upstreams[1].registry", "210987654321"),
            ("--path", "consumers.account_ids[0]", "210987654321"),
        ):
            workspace.run("config", "set", *args, cwd=project)
        written = yaml.safe_load((project / "Pulumi.qa.yaml").read_text())["config"]
        assert written["ecr-pull-through-cache:consumers"]["account_ids"] == [210987654321]
        result = workspace.run("preview", *workspace.pack_args(), cwd=project, check=False)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "golden" in result.stdout and "qa-consumers" in result.stdout


@pytest.mark.parametrize(
    "region, partition, suffix",
    [("cn-north-1", "aws-cn", "amazonaws.com.cn"), ("us-gov-west-1", "aws-us-gov", "amazonaws.com")],
)
def test_stacks_in_other_partitions_preview_with_their_own_partition(tmp_path, region, partition, suffix):
    """A China and a GovCloud stack, each with an ECR upstream of its own partition: the real CLI previews them with
    their partition's hosts and ARNs, and ptc agrees."""
    stack = {
        "aws:region": region,
        "ecr-pull-through-cache:environment": "qa",
        "ecr-pull-through-cache:upstreams": [
            {"kind": "ecr-public"},
            {"kind": "ecr", "prefix": "golden", "registry": f"210987654321.dkr.ecr.{region}.{suffix}"},
        ],
    }
    with engine(tmp_path) as (workspace, _):
        project = project_copy(tmp_path / "project")
        (project / "Pulumi.qa.yaml").write_text(yaml.safe_dump({"config": stack}))
        workspace.run("stack", "init", "qa", cwd=project)
        real = real_preview(workspace, project, "qa")
        offline = ptc_preview(project, "qa")
    output = real["output"].stdout
    assert real["ok"], output[-5000:] + real["output"].stderr[-2000:]
    # The consumer policy and the upstream role name this partition's ARNs (from getPartition and the account).
    assert f"arn:{partition}:ecr:{region}:123456789012:repository/golden/*" in output
    assert f"arn:{partition}:ecr:{region}:210987654321:repository/*" in output
    assert "arn:aws:" not in output
    assert_agree(offline, real, yaml.safe_dump({"config": stack}))


def test_ptc_previews_the_stack_pulumi_stack_select_chose(tmp_path):
    """`pulumi stack select prod`, then `ptc preview` with no --stack: the stack the real CLI wrote into its workspace
    file, not the embedded dev (ptc.stack_config.selected_stack reads what this CLI writes)."""
    workspace = Workspace(tmp_path / "workspace")
    project = project_copy(tmp_path / "project", ("dev", "prod"))

    def ptc_stack() -> tuple[str, str]:
        run = subprocess.run(
            [sys.executable, "-m", "ptc", "preview", "--json", "-C", str(project)],
            cwd=project,
            env={**workspace.env, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        return json.loads(run.stdout)["stack"], run.stderr

    workspace.run("stack", "init", "prod", cwd=project)  # init selects the new stack
    stack, said = ptc_stack()
    assert stack == "prod" and "Stack prod: the workspace's selected stack" in said
    workspace.run("stack", "init", "dev", cwd=project)
    workspace.run("stack", "select", "prod", cwd=project)
    assert ptc_stack()[0] == "prod"
    workspace.run("stack", "select", "dev", cwd=project)
    assert ptc_stack()[0] == "dev"
