"""Checks the Kubernetes manifests and the Compose file against the executables they run.

Every command line an Oni container runs (its command and args, its exec probes, Compose's
commands and health checks) is parsed against that executable's own `--help`: each option
must exist and get a value exactly when it takes one, and each subcommand and argument must
be one the executable knows. Then the wiring: every endpoint a role connects to (worker to
learner, learner to annotator, annotator to the LLM server, the health probes) must reach,
through the Service or Compose service it names, the port the right role binds, by its flags
or their --help defaults; the learner and the workers must play the same environment; paths
given to --curve, --run-dir and --annotation-cache must lie on a mounted volume; the CURVE Secret must
be mounted with mode 0400 and hold the files `oni keys generate` writes.

Usage: python check_wiring.py REPO_ROOT BIN_DIR. Prints every problem, exits 1 if any.
Run by deploy/k8s/validate.sh, which also checks the manifests against Kubernetes' schemas.
"""

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import yaml

ROLES = {"oni", "oni-learner", "oni-worker", "oni-annotator"}
# The sockets each server role binds: option -> the port's name in the manifests.
BINDS = {
    "oni-learner": {"--experience-bind": "experience", "--params-bind": "params", "--metrics-bind": "metrics", "--control-bind": "control"},
    "oni-annotator": {"--bind": "requests"},
}
# Which bound socket a client option must reach: (command, option) -> (role, bind option).
CONNECTS = {
    ("oni-worker", "--experience"): ("oni-learner", "--experience-bind"),
    ("oni-worker", "--params"): ("oni-learner", "--params-bind"),
    ("oni-learner", "--annotator"): ("oni-annotator", "--bind"),
    ("oni health learner", "--endpoint"): ("oni-learner", "--control-bind"),
    ("oni health annotator", "--endpoint"): ("oni-annotator", "--bind"),
}
# Options naming a file or folder that must be on a mounted volume (the root file system is
# read-only in the pods, and what is not on a volume is lost with the container).
PATH_OPTIONS = ("--curve", "--run-dir", "--annotation-cache")
# What `oni keys generate DIR` writes for the servers and the shared client (Secret oni-curve),
# and the per-worker pairs it writes by default (Secret oni-curve-workers: worker-K.key).
CURVE_FILES = {"server.key", "server.pub", "client.key", "client.pub", "authorized_clients"}
WORKER_KEY = re.compile(r"worker-[0-9]+\.key")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


# --- --help ---------------------------------------------------------------------------------


@dataclass
class Option:
    names: list
    takes_value: bool
    default: object  # str, or None

    @property
    def canonical(self):
        return next((name for name in self.names if name.startswith("--")), self.names[0])


@dataclass
class CommandHelp:
    path: list  # e.g. ["oni", "health"]
    options: dict  # every spelling -> Option
    arguments: int  # positional arguments it takes
    subcommands: list


def parse_help(text):
    usage = next((line.split("USAGE:", 1)[1].split() for line in text.splitlines() if line.startswith("USAGE:")), [])
    path = []
    for word in usage:
        if word[0] in "<[-":
            break
        path.append(word)
    options, arguments, subcommands = {}, 0, []
    section, entry = None, None

    def close(entry):
        if entry is None:
            return
        label, description = entry
        label = re.sub(r"<[^>]*>", "<value>", label)
        names = re.findall(r"(?<![\w-])--?[A-Za-z0-9][A-Za-z0-9_-]*", label)
        defaults = re.findall(r"(?:\(|; )default:\s*([^()]*)\)", " ".join(description.split()))
        option = Option(names, "<value>" in label, defaults[-1].strip() if defaults else None)
        for name in names:
            options[name] = option

    for line in text.splitlines():
        if re.match(r"^[A-Z][A-Z' -]+:$", line):
            close(entry)
            section, entry = line[:-1], None
            continue
        # OPTIONS, or the title of an option group (LEARNER, EVERY ROLE, …).
        if section not in (None, "OVERVIEW", "USAGE", "ARGUMENTS", "SUBCOMMANDS"):
            if re.match(r"^  -", line):
                close(entry)
                parts = re.split(r"\s{2,}", line.strip(), maxsplit=1)
                entry = [parts[0], parts[1] if len(parts) > 1 else ""]
            elif entry is not None and line.startswith("   ") and line.strip():
                entry[1] += " " + line.strip()
        elif section == "ARGUMENTS" and re.match(r"^  <", line):
            arguments += 1
        elif section == "SUBCOMMANDS" and re.match(r"^  [a-z][a-z0-9-]*(\s{2,}|$)", line):
            subcommands.append(line.split()[0])
    close(entry)
    return CommandHelp(path, options, arguments, subcommands)


class Executables:
    def __init__(self, directory):
        self.directory = directory
        self.cache = {}

    def help(self, executable, words):
        """The help of the deepest subcommand `executable words...` names, or an error text."""
        key = (executable, tuple(words))
        if key not in self.cache:
            path = os.path.join(self.directory, executable)
            try:
                done = subprocess.run([path, *words, "--help"], capture_output=True, text=True, timeout=30)
            except OSError as error:
                self.cache[key] = (None, f"cannot run {path}: {error.strerror}")
            else:
                if done.returncode == 0 and "USAGE:" in done.stdout:
                    self.cache[key] = (parse_help(done.stdout), None)
                else:
                    first = (done.stderr or done.stdout).strip().splitlines()
                    self.cache[key] = (None, first[0] if first else f"exit {done.returncode}")
        return self.cache[key]


# --- command lines --------------------------------------------------------------------------


@dataclass
class Invocation:
    """One Oni command line, parsed against its --help."""

    where: str
    command: str  # "oni-learner", "oni health learner", ...
    values: dict  # canonical option name -> value (True for flags)
    help: CommandHelp

    def given(self, option):
        """The option's value as given (True for a flag), or None."""
        spec = self.help.options.get(option)
        return self.values.get(spec.canonical) if spec else None

    def value(self, option):
        """The option's value as given, else its --help default (None if it has none)."""
        spec = self.help.options.get(option)
        return self.values.get(spec.canonical, spec.default) if spec else None


class Checker:
    def __init__(self, executables):
        self.executables = executables
        self.problems = []

    def problem(self, where, text):
        self.problems.append(f"{where}: {text}")

    def parse(self, where, argv):
        """Parses an Oni command line against --help; returns an Invocation or None."""
        executable = os.path.basename(argv[0])
        words = []
        for token in argv[1:]:
            if token.startswith("-"):
                break
            words.append(token)
        help_, error = self.executables.help(executable, words)
        if help_ is None:
            self.problem(where, f"`{' '.join([executable, *words])} --help` failed: {error}")
            return None
        rest = argv[len(help_.path):]
        name = " ".join(help_.path)
        if help_.subcommands and not help_.arguments:
            unknown = words[len(help_.path) - 1 :]
            if unknown:
                self.problem(where, f"`{name}` has no subcommand {unknown[0]!r} (its subcommands: {', '.join(help_.subcommands)})")
            else:
                self.problem(where, f"`{name}` needs a subcommand ({', '.join(help_.subcommands)})")
            return None
        values, positionals, i = {}, [], 0
        while i < len(rest):
            token = rest[i]
            if token == "--":
                positionals += rest[i + 1 :]
                break
            if token.startswith("-") and len(token) > 1:
                option_name, equals, inline = token.partition("=")
                spec = help_.options.get(option_name)
                if spec is None:
                    self.problem(where, f"`{name}` has no option {option_name} (not in its --help)")
                    if not equals and i + 1 < len(rest) and not rest[i + 1].startswith("-"):
                        i += 1  # most likely its value: do not report it again as an argument
                elif spec.takes_value:
                    if equals:
                        values[spec.canonical] = inline
                    elif i + 1 < len(rest):
                        values[spec.canonical] = rest[i + 1]
                        i += 1
                    else:
                        self.problem(where, f"`{name}` option {option_name} needs a value")
                else:
                    if equals:
                        self.problem(where, f"`{name}` option {option_name} is a flag and takes no value")
                    values[spec.canonical] = True
            else:
                positionals.append(token)
            i += 1
        if len(positionals) > help_.arguments:
            self.problem(where, f"`{name}` takes {help_.arguments} argument(s), got {positionals}")
        command = name
        if help_.path == ["oni", "health"] and positionals:
            command = f"oni health {positionals[0]}"
        return Invocation(where, command, values, help_)


def split_endpoint(text):
    """(scheme, host, port) of tcp://HOST:PORT or http(s)://HOST[:PORT]/..., or None."""
    try:
        parts = urlsplit(text)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        if parts.scheme in ("tcp", "http", "https") and parts.hostname and port:
            return parts.scheme, parts.hostname, port
    except ValueError:
        pass
    return None


# --- Kubernetes -----------------------------------------------------------------------------


@dataclass
class Container:
    where: str
    labels: dict
    spec: dict
    mounts: list  # mount paths
    main: object = None  # the Invocation of its command, if it runs Oni
    probes: list = field(default_factory=list)  # Invocations of its probes or health check

    @property
    def invocations(self):
        return ([self.main] if self.main else []) + self.probes

    def container_port(self, target):
        """The containerPort a Service's targetPort (name or number) means, or None."""
        for port in self.spec.get("ports", []):
            if port.get("name") == target or port.get("containerPort") == target:
                return port["containerPort"]
        return None


def expand_kubernetes(text, env, where, checker):
    def replace(match):
        name = match.group(1)
        if name not in env:
            checker.problem(where, f"$({name}) is not an environment variable of the container")
            return match.group(0)
        return env[name]

    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", replace, text)


def load_kubernetes(root, checker):
    base = os.path.join(root, "deploy", "k8s")
    with open(os.path.join(base, "kustomization.yaml")) as handle:
        kustomization = yaml.safe_load(handle)
    documents = []
    for name in kustomization.get("resources", []):
        with open(os.path.join(base, name)) as handle:
            for document in yaml.safe_load_all(handle):
                if document:
                    documents.append((f"deploy/k8s/{name}", document))
    listed = set(kustomization.get("resources", []))
    for name in sorted(os.listdir(base)):
        if name.endswith(".yaml") and name != "kustomization.yaml" and name not in listed:
            checker.problem(f"deploy/k8s/{name}", "not listed in kustomization.yaml's resources")
    generated = set()
    for generator in kustomization.get("secretGenerator", []):
        files = {os.path.basename(str(entry).split("=")[-1]) for entry in generator.get("files", [])}
        generated.add(generator.get("name"))
        if generator.get("name") == "oni-curve":
            if files != CURVE_FILES:
                checker.problem("deploy/k8s/kustomization.yaml", f"secret oni-curve holds {sorted(files)}, `oni keys generate` writes {sorted(CURVE_FILES)}")
        elif generator.get("name") == "oni-curve-workers":
            if not files or not all(WORKER_KEY.fullmatch(name) for name in files):
                checker.problem("deploy/k8s/kustomization.yaml", f"secret oni-curve-workers holds {sorted(files)}: only worker-K.key pairs belong there")
    if "oni-curve-workers" not in generated:
        checker.problem("deploy/k8s/kustomization.yaml", "no secret oni-curve-workers: the workers' own key pairs")
    return kustomization, documents


def kubernetes_containers(documents, checker):
    config_maps = {doc["metadata"]["name"]: doc.get("data", {}) for _, doc in documents if doc.get("kind") == "ConfigMap"}
    containers = []
    for where, doc in documents:
        if doc.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        name = doc["metadata"]["name"]
        template = doc["spec"]["template"]
        pod = template["spec"]
        claim_templates = {t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates", [])}
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for volume in volumes.values():
            secret = volume.get("secret")
            if secret and secret.get("secretName") == "oni-curve-workers" and secret.get("defaultMode") != 0o400:
                checker.problem(f"{where} {name}", f"volume {volume['name']} mounts the workers' keys with mode 0{secret.get('defaultMode', 0o644):o}, not 0400")
            if secret and secret.get("secretName") == "oni-curve":
                if secret.get("defaultMode") != 0o400:
                    checker.problem(f"{where} {name}", f"volume {volume['name']} mounts the CURVE keys with mode 0{secret.get('defaultMode', 0o644):o}, not 0400")
                for item in secret.get("items", []):
                    if item["key"] not in CURVE_FILES:
                        checker.problem(f"{where} {name}", f"volume {volume['name']} asks for {item['key']!r}, which oni keys generate does not write")
        for kind, items in (("initContainer", pod.get("initContainers", [])), ("container", pod.get("containers", []))):
            for spec in items:
                cwhere = f"{where} {doc['kind']}/{name} {kind} {spec['name']}"
                env = {}
                for source in spec.get("envFrom", []):
                    reference = source.get("configMapRef", {}).get("name")
                    if reference is not None:
                        if reference not in config_maps:
                            checker.problem(cwhere, f"envFrom names ConfigMap {reference}, which the base does not define")
                        env.update({key: str(value) for key, value in config_maps.get(reference, {}).items()})
                for variable in spec.get("env", []):
                    source = variable.get("valueFrom", {})
                    if "value" in variable:
                        env[variable["name"]] = str(variable["value"])
                    elif "configMapKeyRef" in source:
                        ref = source["configMapKeyRef"]
                        data = config_maps.get(ref["name"], {})
                        if ref["key"] not in data:
                            checker.problem(cwhere, f"env {variable['name']} reads {ref['name']}/{ref['key']}, which does not exist")
                        env[variable["name"]] = str(data.get(ref["key"], ""))
                    else:
                        env[variable["name"]] = f"<{variable['name']}>"
                mounts = []
                for mount in spec.get("volumeMounts", []):
                    if mount["name"] not in volumes and mount["name"] not in claim_templates:
                        checker.problem(cwhere, f"mounts volume {mount['name']}, which the pod does not define")
                    mounts.append(mount["mountPath"])
                container = Container(cwhere, template["metadata"].get("labels", {}), spec, mounts)
                argv = [expand_kubernetes(str(token), env, cwhere, checker) for token in spec.get("command", []) + spec.get("args", [])]
                if argv and os.path.basename(argv[0]) in ROLES:
                    container.main = checker.parse(f"{cwhere} command", argv)
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    command = spec.get(probe, {}).get("exec", {}).get("command")
                    if command and os.path.basename(command[0]) in ROLES:
                        invocation = checker.parse(f"{cwhere} {probe}", [expand_kubernetes(str(t), env, cwhere, checker) for t in command])
                        if invocation:
                            container.probes.append(invocation)
                containers.append(container)
    return containers


class KubernetesNetwork:
    def __init__(self, documents, containers, checker):
        self.services = {doc["metadata"]["name"]: (where, doc) for where, doc in documents if doc.get("kind") == "Service"}
        self.containers = containers
        self.checker = checker

    def selected(self, service):
        selector = service["spec"].get("selector", {})
        return [c for c in self.containers if selector and all(c.labels.get(k) == v for k, v in selector.items()) and "initContainer" not in c.where]

    def reach(self, where, host, port):
        """The (container, containerPort) that host:port reaches, or None (reported)."""
        name = host.split(".")[0]
        if name not in self.services:
            self.checker.problem(where, f"{host}:{port}: no Service named {name} in the base")
            return None
        _, service = self.services[name]
        entry = next((p for p in service["spec"].get("ports", []) if p.get("port") == port), None)
        if entry is None:
            ports = [p.get("port") for p in service["spec"].get("ports", [])]
            self.checker.problem(where, f"{host}:{port}: Service {name} has no port {port} (it has {ports})")
            return None
        target = entry.get("targetPort", port)
        for container in self.selected(service):
            number = container.container_port(target)
            if number is not None:
                return container, number
        self.checker.problem(where, f"{host}:{port}: Service {name}'s targetPort {target!r} is no port of the containers it selects")
        return None


class ComposeNetwork:
    def __init__(self, services, checker):
        self.services = services  # name -> Container
        self.checker = checker

    def reach(self, where, host, port):
        if host not in self.services:
            self.checker.problem(where, f"{host}:{port}: no Compose service named {host}")
            return None
        return self.services[host], port


# --- wiring ---------------------------------------------------------------------------------


def bound_port(invocation, option, checker, where, exposed):
    value = invocation.value(option)
    endpoint = split_endpoint(str(value).replace("*", "0.0.0.0")) if value else None
    if endpoint is None:
        checker.problem(where, f"`{invocation.command}` {option} {value!r} is not tcp://HOST:PORT")
        return None
    _, host, port = endpoint
    if exposed and host not in ("0.0.0.0", "::"):
        checker.problem(where, f"`{invocation.command}` binds {option} {value}: only reachable inside its own container; bind tcp://*:{port}")
    return port


def server_port(container, role, option, checker, where):
    main = container.main
    if main is None or main.command != role:
        got = main.command if main else container.spec.get("image", "?")
        checker.problem(where, f"reaches {container.where}, which runs {got}, not {role}")
        return None
    return bound_port(main, option, checker, where, exposed=False)


def check_wiring(containers, network, checker, kubernetes):
    roles = {}
    for container in containers:
        main = container.main
        if main is None:
            continue
        roles.setdefault(main.command, []).append(container)
        # Every socket a server binds is reachable from outside its container, and declared.
        for option, port_name in BINDS.get(main.command, {}).items():
            port = bound_port(main, option, checker, main.where, exposed=True)
            if kubernetes and port is not None:
                declared = container.container_port(port_name)
                if declared != port:
                    checker.problem(main.where, f"binds {option} on port {port}, but its containerPort {port_name!r} is {declared}")
        # Files and folders on volumes.
        for invocation in container.invocations:
            for option in PATH_OPTIONS:
                value = invocation.given(option)
                if isinstance(value, str) and not any(value == m or value.startswith(m.rstrip("/") + "/") for m in container.mounts):
                    checker.problem(invocation.where, f"{option} {value} is on no mounted volume (mounts: {container.mounts})")
    # Each client endpoint reaches the socket it is meant for.
    for container in containers:
        for invocation in container.invocations:
            for (command, option), (role, bind) in CONNECTS.items():
                given = invocation.given(option)
                if invocation.command != command or given is None:
                    continue
                endpoint = split_endpoint(str(given))
                if endpoint is None:
                    checker.problem(invocation.where, f"{option} {given!r} is not tcp://HOST:PORT")
                    continue
                _, host, port = endpoint
                if host in LOCAL_HOSTS:
                    expected = server_port(container, role, bind, checker, invocation.where)
                else:
                    reached = network.reach(invocation.where, host, port)
                    if reached is None:
                        continue
                    target, number = reached
                    expected = server_port(target, role, bind, checker, invocation.where)
                    if expected is not None and number != expected:
                        checker.problem(invocation.where, f"{option} {host}:{port} reaches port {number} of {target.where}, which binds {bind} on {expected}")
                        continue
                if expected is not None and port != expected:
                    checker.problem(invocation.where, f"{option} uses port {port}, but {role} binds {bind} on {expected}")
            # The annotator's LLM server: the port it serves on (its --port) is the URL's.
            if invocation.command == "oni-annotator" and isinstance(invocation.value("--llm-url"), str):
                url = invocation.value("--llm-url")
                endpoint = split_endpoint(url)
                if endpoint is None:
                    if "://" in url:
                        checker.problem(invocation.where, f"--llm-url {url!r} is not http(s)://HOST[:PORT]/...")
                    continue  # unset: the annotator reads ONI_LLM_BASE_URL
                _, host, port = endpoint
                if host == "host.docker.internal" or host not in getattr(network, "services", {}):
                    continue  # a server outside the deployment
                reached = network.reach(invocation.where, host, port)
                if reached:
                    target, number = reached
                    args = [str(a) for a in target.spec.get("command", []) + target.spec.get("args", [])]
                    served = int(args[args.index("--port") + 1]) if "--port" in args else None
                    if served is not None and served != number:
                        checker.problem(invocation.where, f"--llm-url {url} reaches port {number} of {target.where}, which serves on --port {served}")
    # The learner and every worker play the same environment (it fixes the network's shape).
    learner_envs = {c.main.value("--env") for c in roles.get("oni-learner", [])}
    for container in roles.get("oni-worker", []):
        env = container.main.value("--env")
        if env not in learner_envs:
            checker.problem(container.main.where, f"--env {env} differs from the learner's {sorted(learner_envs)}")
    return roles


# --- Compose --------------------------------------------------------------------------------


def expand_compose(text, where, checker):
    def replace(match):
        name, default = match.group(1), match.group(3)
        if default is None:
            checker.problem(where, f"${{{name}}} has no default: give one (${{{name}:-...}})")
            return ""
        return default

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-([^}]*))?\}", replace, text)


def compose_containers(root, checker):
    path = os.path.join(root, "deploy", "docker", "compose.yaml")
    with open(path) as handle:
        compose = yaml.safe_load(handle)
    services = {}
    named_volumes = set((compose.get("volumes") or {}).keys())
    for name, service in (compose.get("services") or {}).items():
        where = f"deploy/docker/compose.yaml service {name}"
        if "image" not in service and "build" not in service:
            checker.problem(where, "has neither image nor build")
        mounts = []
        for volume in service.get("volumes", []):
            source, _, rest = str(volume).partition(":")
            target = rest.split(":")[0]
            if not source.startswith((".", "/")) and source not in named_volumes:
                checker.problem(where, f"mounts volume {source}, which the file does not declare")
            mounts.append(target)
        for other in service.get("depends_on", []) or []:
            if other not in compose["services"]:
                checker.problem(where, f"depends on {other}, which is no service")
        command = service.get("command", [])
        if isinstance(command, str):
            checker.problem(where, "command is a string: give it as a list (no shell splitting)")
            command = command.split()
        entrypoint = service.get("entrypoint") or []
        argv = [expand_compose(str(t), where, checker) for t in list(entrypoint) + list(command)]
        ports = [{"name": "", "containerPort": int(a)} for a in argv[argv.index("--port") + 1 : argv.index("--port") + 2]] if "--port" in argv else []
        container = Container(where, {}, {"command": argv, "ports": ports, "image": service.get("image")}, mounts)
        if argv and os.path.basename(argv[0]) in ROLES:
            container.main = checker.parse(f"{where} command", argv)
        test = (service.get("healthcheck") or {}).get("test")
        if isinstance(test, list) and test and test[0] == "CMD":
            argv = [expand_compose(str(t), where, checker) for t in test[1:]]
            if argv and os.path.basename(argv[0]) in ROLES:
                invocation = checker.parse(f"{where} healthcheck", argv)
                if invocation:
                    container.probes.append(invocation)
        services[name] = container
    return services


# --- main -----------------------------------------------------------------------------------


def main():
    root, bin_dir = sys.argv[1], sys.argv[2]
    for executable in sorted(ROLES):
        if not os.access(os.path.join(bin_dir, executable), os.X_OK):
            print(f"check: {bin_dir}/{executable} is missing: build first (swift build), or give the folder as ONI_BIN", file=sys.stderr)
            return 2
    checker = Checker(Executables(bin_dir))
    try:
        return check(root, bin_dir, checker)
    except (OSError, yaml.YAMLError) as error:
        print(f"check: cannot read the deployments: {error}", file=sys.stderr)
        return 1


def check(root, bin_dir, checker):
    _, documents = load_kubernetes(root, checker)
    containers = kubernetes_containers(documents, checker)
    roles = check_wiring(containers, KubernetesNetwork(documents, containers, checker), checker, kubernetes=True)
    for role in ("oni-learner", "oni-worker", "oni-annotator"):
        if role not in roles:
            checker.problem("deploy/k8s", f"no container runs {role}")
    k8s_lines = sum(len(c.invocations) for c in containers)

    services = compose_containers(root, checker)
    compose_roles = check_wiring(list(services.values()), ComposeNetwork(services, checker), checker, kubernetes=False)
    for role in ("oni-learner", "oni-worker", "oni-annotator"):
        if role not in compose_roles:
            checker.problem("deploy/docker/compose.yaml", f"no service runs {role}")
    compose_lines = sum(len(c.invocations) for c in services.values())

    for problem in checker.problems:
        print(f"check: {problem}")
    print(
        f"check: {k8s_lines} command lines in deploy/k8s and {compose_lines} in deploy/docker/compose.yaml "
        f"against the --help of {bin_dir}: {len(checker.problems)} problem(s)"
    )
    return 1 if checker.problems else 0


if __name__ == "__main__":
    sys.exit(main())
