package packaging_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/solehq/sole/packaging"
)

// The scriptlets of an .rpm: $1 is a count, so the service is stopped and
// disabled only when the last instance of the package goes.
func ExampleNewRPMScripts() {
	s, err := packaging.NewRPMScripts("myd")
	if err != nil {
		panic(err)
	}
	fmt.Print(s.Preun)
	// Output:
	// # Added by sole: %systemd_preun myd.service (systemd's rpm macros)
	// if [ $1 -eq 0 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then
	//     # Package removal, not upgrade
	//     /usr/lib/systemd/systemd-update-helper remove-system-units myd.service || :
	// elif [ $1 -eq 0 ]; then
	//     # Package removal, systemd before 249
	//     systemctl --no-reload disable --now myd.service >/dev/null 2>&1 || :
	// fi
}

// A description that cannot be packaged is a *packaging.Error naming the
// field, before anything is built.
func ExampleBuild_error() {
	_, err := packaging.Build(context.Background(), packaging.Spec{Name: "myd", Version: "1.0 beta"}, packaging.Deb, "dist")
	var pe *packaging.Error
	if errors.As(err, &pe) {
		fmt.Println(pe.Field)
		fmt.Println(err)
	}
	// Output:
	// version
	// package: version: "1.0 beta" has ' ', which package versions do not allow
}

// What a format has no place for is refused, not dropped: the error wraps
// packaging.ErrUnsupported.
func ExampleBuild_unsupported() {
	s := packaging.Spec{Name: "myd", Version: "1.0.0", Env: []string{"MYD_PORT=8080"}}
	_, err := packaging.Build(context.Background(), s, packaging.MSI, "dist")
	fmt.Println(errors.Is(err, packaging.ErrUnsupported))
	fmt.Println(err)
	// Output:
	// true
	// package: env: not supported in an .msi: it is a systemd or Linux package option
}
