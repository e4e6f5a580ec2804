package platform_test

import (
	"fmt"

	"github.com/solehq/sole/platform"
)

func ExampleParseScope() {
	for _, arg := range []string{"system", "user", "global"} {
		s, err := platform.ParseScope(arg)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s (%d)\n", s, s)
	}
	fmt.Println(platform.Scope(7))
	// Output:
	// system (2)
	// user (1)
	// invalid scope "global": want "system" or "user"
	// scope(7)
}
