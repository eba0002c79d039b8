// Calls a Resident object from JavaScript with @dapr/dapr's ActorProxyBuilder (README,
// "Calling objects from other languages"). The SDK reads DAPR_HTTP_PORT and DAPR_API_TOKEN;
// POLICY is a signed policy (JWS), OPS_TOKEN and SENSOR_TOKEN are caller JWTs.
import { ActorId, ActorProxyBuilder, DaprClient } from "@dapr/dapr";

const client = new DaprClient(); // HTTP to the sidecar at DAPR_HTTP_PORT
const show = (step, reply) => console.log(JSON.stringify({ step, reply }));
const ops = process.env.OPS_TOKEN;
const token = process.env.SENSOR_TOKEN;

class ResidentObject { async Command(req) {} }
const proxy = new ActorProxyBuilder(ResidentObject, client).build(new ActorId("thermostat-7"));

show("install", await proxy.InstallPolicy({ policy: process.env.POLICY, token: ops }));
show("command", await proxy.Command({ name: "report", params: { temperature: 41 }, token }));
show("snapshot", await proxy.Snapshot({ token: ops }));
show("lineage", await proxy.Lineage({ token: ops, after: 0, limit: 10 }));
// A refusal is an answer, not an exception: { error: { code, message } }.
show("refused", await proxy.Command({ name: "report", params: { temperature: 1 }, token: ops }));
await client.stop();
