// Calls a Resident object from Java with io.dapr:dapr-sdk-actors (README, "Calling objects from
// other languages"). The SDK reads DAPR_GRPC_PORT and DAPR_API_TOKEN; POLICY is a signed policy
// (JWS), OPS_TOKEN and SENSOR_TOKEN are caller JWTs.
package dev.resident.example;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.resident.client.*;
import io.dapr.actors.ActorId;
import io.dapr.actors.client.ActorClient;
import io.dapr.actors.client.ActorProxy;
import io.dapr.actors.client.ActorProxyBuilder;
import java.util.Map;

public final class Example {
  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    String ops = System.getenv("OPS_TOKEN");
    String sensor = System.getenv("SENSOR_TOKEN");
    try (ActorClient client = new ActorClient()) {
      ActorId id = new ActorId("thermostat-java");
      ResidentObject thermostat = new ActorProxyBuilder<>(ResidentObject.class, client).build(id);

      show("install", thermostat.installPolicy(new InstallPolicyRequest(ops, System.getenv("POLICY"))));
      show("command", thermostat.command(
          new CommandRequest(sensor, "report", Map.of("temperature", 41), null)));
      show("snapshot", thermostat.snapshot(new SnapshotRequest(ops)));

      // The untyped proxy: any method by name, the reply as the class you ask for.
      ActorProxy proxy = new ActorProxyBuilder<>("ResidentObject", ActorProxy.class, client).build(id);
      show("lineage", proxy.invokeMethod("Lineage", new LineageRequest(ops, 0L, 10L), LineagePage.class).block());

      // A refusal is an answer, not an exception: its `error` holds { code, message }.
      CommandResult refused = thermostat.command(
          new CommandRequest(ops, "report", Map.of("temperature", 1), null));
      show("refused", refused);
    }
  }

  private static void show(String step, Object reply) throws Exception {
    System.out.println(JSON.writeValueAsString(Map.of("step", step, "reply", reply)));
  }
}
