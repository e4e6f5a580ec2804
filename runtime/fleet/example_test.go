package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/solehq/sole/runtime"
	"github.com/solehq/sole/runtime/fleet"
)

// A report job that must run on one node of three: every node runs the
// same program, one holds the fleet lock and works, the others stand by.
// The fencing token goes with what the job writes, so that a store can
// refuse a write from a holder older than the last one it saw.
func ExampleNew() {
	lock, err := fleet.New("etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379/prod",
		fleet.WithTTL(5*time.Second),
		fleet.WithTLS("/etc/reportd/ca.pem", "/etc/reportd/client.pem", "/etc/reportd/client-key.pem"))
	if err != nil {
		log.Fatal(err)
	}
	runtime.Main(runtime.Config{Name: "reportd", Fleet: lock}, runtime.AppFunc(func(ctx context.Context, svc *runtime.Service) error {
		token, _ := runtime.FencingToken(ctx)
		svc.SetStatus(fmt.Sprintf("reporting (fencing token %d)", token))
		svc.Ready()
		// ... work, each write carrying token (the processes the app
		// starts find it in SOLE_FENCING_TOKEN) ...
		<-ctx.Done()
		if errors.Is(context.Cause(ctx), runtime.ErrFleetLost) {
			// The program exits 76 once Run returns: another node may
			// take over when the lease expires.
			svc.Logger().Warn("fleet lock lost: stopped writing")
		}
		return nil
	}))
}
