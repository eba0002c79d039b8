// Calls a Resident object from Go with github.com/dapr/go-sdk (README, "Calling objects from
// other languages"). The SDK reads DAPR_GRPC_PORT and DAPR_API_TOKEN; POLICY is a signed policy
// (JWS), OPS_TOKEN and SENSOR_TOKEN are caller JWTs.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	dapr "github.com/dapr/go-sdk/client"

	"resident.dev/clients/go/resident"
)

func main() {
	ctx := context.Background()
	client, err := dapr.NewClient()
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ops, sensor := os.Getenv("OPS_TOKEN"), os.Getenv("SENSOR_TOKEN")

	// The typed stub: client.ImplActorClientStub fills its methods.
	thermostat := &resident.ResidentObject{ObjectID: "thermostat-go"}
	client.ImplActorClientStub(thermostat)

	installed, err := thermostat.InstallPolicy(ctx, &resident.InstallPolicyRequest{Token: ops, Policy: os.Getenv("POLICY")})
	show("install", installed, err)
	report := &resident.CommandRequest{Token: sensor, Name: "report", Params: map[string]any{"temperature": 41}}
	result, err := thermostat.Command(ctx, report)
	show("command", result, err)
	snapshot, err := thermostat.Snapshot(ctx, &resident.SnapshotRequest{Token: ops})
	show("snapshot", snapshot, err)

	// The raw call: any method by name, JSON in and out.
	body, _ := json.Marshal(resident.LineageRequest{Token: ops, After: 0, Limit: 10})
	raw, err := client.InvokeActor(ctx, &dapr.InvokeActorRequest{
		ActorType: resident.ActorType, ActorID: "thermostat-go", Method: "Lineage", Data: body,
	})
	var page resident.LineagePage
	if err == nil {
		err = json.Unmarshal(raw.Data, &page)
	}
	show("lineage", &page, err)

	// A refusal is an answer, not an error: its Error holds {code, message}.
	refused, err := thermostat.Command(ctx, &resident.CommandRequest{Token: ops, Name: "report", Params: map[string]any{"temperature": 1}})
	show("refused", refused, err)
}

func show(step string, reply any, err error) {
	if err != nil {
		log.Fatalf("%s: %v", step, err)
	}
	line, _ := json.Marshal(map[string]any{"step": step, "reply": reply})
	fmt.Println(string(line))
}
