// Validates rendered Kubernetes manifests offline: every object against its API schema
// (kubernetes-models, @kubernetes-models/cert-manager), then atsgate's own deployment rules
// (replicas, probes, shutdown budget, privileges, the objects the Deployment refers to).
//
//   node validate.mjs RENDERED.yaml...        exit 0: all valid; 1: every problem printed
//   node validate.mjs --self-test             proves the validator rejects broken objects
import fs from "node:fs";
import yaml from "js-yaml";

// apiVersion -> module path prefix of its models.
const groups = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "policy/v1": "kubernetes-models/policy/v1",
  "networking.k8s.io/v1": "kubernetes-models/networking.k8s.io/v1",
  "cert-manager.io/v1": "@kubernetes-models/cert-manager/cert-manager.io/v1",
};

let wantReplicas = 3;

async function schemaErrors(obj) {
  const prefix = groups[obj.apiVersion];
  if (!prefix) return [`no schema known for apiVersion ${obj.apiVersion}`];
  let mod;
  try {
    mod = await import(`${prefix}/${obj.kind}`);
  } catch {
    return [`no schema known for ${obj.apiVersion} ${obj.kind}`];
  }
  const Model = mod[obj.kind] ?? mod.default;
  try {
    new Model(obj).validate();
    return [];
  } catch (e) {
    return [String(e.message ?? e)];
  }
}

// atsgate's rules for the rendered set (the deployment requirements).
function policyErrors(objs) {
  const errs = [];
  const byKind = (k) => objs.filter((o) => o.kind === k);
  const named = (k, n) => objs.find((o) => o.kind === k && o.metadata?.name === n);
  const deps = byKind("Deployment");
  if (deps.length !== 1) return [`expected one Deployment, found ${deps.length}`];
  const d = deps[0];
  const spec = d.spec ?? {};
  const pod = spec.template?.spec ?? {};
  const c = (pod.containers ?? [])[0] ?? {};
  const need = (cond, msg) => { if (!cond) errs.push(`Deployment/${d.metadata.name}: ${msg}`); };
  need(spec.replicas === wantReplicas, `replicas is ${spec.replicas}, want ${wantReplicas}`);
  need(c.readinessProbe?.httpGet?.path === "/readyz", "readinessProbe must GET /readyz");
  need(c.livenessProbe?.httpGet?.path === "/healthz", "livenessProbe must GET /healthz");
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  const pre = c.lifecycle?.preStop?.exec?.command ?? [];
  const pause = pre[0] === "/bin/sleep" ? Number(pre[1]) : NaN;
  need(Number.isFinite(pause), "preStop must pause (/bin/sleep N) before the SIGTERM drain");
  const sc = c.securityContext ?? {};
  need(pod.securityContext?.runAsNonRoot === true && sc.runAsNonRoot === true, "must run as non-root");
  need(Number.isInteger(pod.securityContext?.runAsUser) && pod.securityContext.runAsUser > 0, "runAsUser must be a non-zero UID");
  need(sc.readOnlyRootFilesystem === true, "root filesystem must be read-only");
  need(sc.allowPrivilegeEscalation === false, "allowPrivilegeEscalation must be false");
  const caps = sc.capabilities ?? {};
  need(JSON.stringify(caps.drop) === '["ALL"]', "capabilities must drop ALL");
  need((caps.add ?? []).every((x) => x === "NET_BIND_SERVICE"), `only NET_BIND_SERVICE may be added, got ${caps.add}`);
  // Volumes: every referenced ConfigMap/Secret is rendered too.
  for (const v of pod.volumes ?? []) {
    if (v.configMap) need(named("ConfigMap", v.configMap.name), `volume ${v.name}: ConfigMap ${v.configMap.name} not rendered`);
    if (v.secret && !named("Secret", v.secret.secretName) &&
        !objs.some((o) => o.kind === "Certificate" && o.spec?.secretName === v.secret.secretName))
      need(false, `volume ${v.name}: Secret ${v.secret.secretName} neither rendered nor issued by a Certificate`);
  }
  // The config: drain_timeout fits the shutdown budget; ticket keys are shared.
  const cmVol = (pod.volumes ?? []).find((v) => v.configMap);
  const toml = cmVol ? named("ConfigMap", cmVol.configMap.name)?.data?.["atsgate.toml"] : undefined;
  need(typeof toml === "string", "the ConfigMap holds no atsgate.toml");
  if (typeof toml === "string") {
    const m = toml.match(/^\s*drain_timeout\s*=\s*"(\d+)s"/m);
    const drain = m ? Number(m[1]) : 30;
    need(pause + drain < grace, `preStop ${pause}s + drain_timeout ${drain}s must be < terminationGracePeriodSeconds ${grace}s`);
    need(/^\s*ticket_key_file\s*=/m.test(toml), "replicas must share ticket keys (ticket_key_file)");
    need(/^\s*watch\s*=\s*true/m.test(toml), "watch = true: certificate renewals (Secret swaps) must be picked up");
  }
  // A PodDisruptionBudget and a Service selecting the pods.
  const labels = spec.template?.metadata?.labels ?? {};
  const selects = (sel) => sel && Object.entries(sel).every(([k, v]) => labels[k] === v);
  need(byKind("PodDisruptionBudget").some((p) => selects(p.spec?.selector?.matchLabels)), "no PodDisruptionBudget selects the pods");
  need(byKind("Service").some((s) => selects(s.spec?.selector)), "no Service selects the pods");
  return errs;
}

async function validateFile(path) {
  const docs = yaml.loadAll(fs.readFileSync(path, "utf8")).filter((d) => d);
  // kustomize wraps long base64 values over several lines; the API server's decoder (Go's
  // encoding/base64) skips the newlines, the schema's "byte" format does not: join them first.
  for (const o of docs)
    if (o.kind === "Secret" && o.data)
      for (const k of Object.keys(o.data)) if (typeof o.data[k] === "string") o.data[k] = o.data[k].replace(/\s+/g, "");
  const errs = [];
  for (const o of docs) {
    for (const e of await schemaErrors(o)) errs.push(`${o.kind}/${o.metadata?.name}: ${e}`);
  }
  errs.push(...policyErrors(docs));
  return { count: docs.length, kinds: docs.map((d) => d.kind), errs };
}

async function selfTest() {
  // Each broken object must be refused by the schema check.
  const broken = [
    { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" },
      spec: { replicas: "three", selector: { matchLabels: { a: "b" } }, template: { spec: { containers: [] } } } },
    { apiVersion: "v1", kind: "Service", metadata: { name: "x" }, spec: { ports: [{ port: "https" }] } },
    { apiVersion: "cert-manager.io/v1", kind: "Certificate", metadata: { name: "x" }, spec: { dnsNames: ["a"] } },
    { apiVersion: "example.com/v1", kind: "Unknown", metadata: { name: "x" } },
  ];
  let ok = true;
  for (const o of broken) {
    const e = await schemaErrors(o);
    console.log(`self-test ${o.kind}: ${e.length ? "refused: " + e[0].split("\n")[0] : "ACCEPTED (validator broken)"}`);
    if (!e.length) ok = false;
  }
  // And the deployment rules refuse a Deployment that breaks them.
  const weak = [{ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" },
    spec: { replicas: 1, template: { spec: { containers: [{ name: "a", securityContext: { capabilities: { add: ["NET_ADMIN"] } } }] } } } }];
  const p = policyErrors(weak);
  console.log(`self-test deployment rules: ${p.length} problem(s) found${p.length ? ", e.g. " + p[0] : " (validator broken)"}`);
  if (p.length < 8) ok = false;
  return ok;
}

const args = process.argv.slice(2);
if (args[0] === "--self-test") process.exit((await selfTest()) ? 0 : 1);
// --replicas N: the replica count the manifests must ask for (3; the podman kube play overlay
// runs 1, since its pods share the host's ports).
if (args[0] === "--replicas") {
  wantReplicas = Number(args[1]);
  args.splice(0, 2);
}
let failed = false;
for (const f of args) {
  const r = await validateFile(f);
  console.log(`${f}: ${r.count} objects (${r.kinds.join(", ")}): ${r.errs.length ? "INVALID" : "valid"}`);
  for (const e of r.errs) console.log(`  ${e}`);
  if (r.errs.length) failed = true;
}
process.exit(failed ? 1 : 0);
