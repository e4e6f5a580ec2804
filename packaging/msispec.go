package packaging

import (
	"context"
	"fmt"
	"strings"
)

// BuildMSIFromSpec builds the .msi of s with BuildMSI: the program of a
// Spec runs directly when it is built on sole's runtime.Main, else under
// the Windows sole.exe given in s.Sole. sign, when not nil, signs the
// .exe files and the .msi. Options that only systemd has (Env, Watchdog,
// Health, the timeouts, Depends, Section, User) are refused with an error
// wrapping ErrUnsupported rather than dropped.
func BuildMSIFromSpec(ctx context.Context, s Spec, sign *Signing, outDir string) (string, error) {
	for _, u := range []struct {
		set   bool
		field string
	}{
		{len(s.Env) > 0, "env"}, {s.Watchdog != 0, "watchdog"}, {s.Health != "", "health"},
		{s.StartTimeout != 0, "start-timeout"}, {s.StopTimeout != 0, "stop-timeout"},
		{len(s.Depends) > 0, "depends"}, {s.Section != "", "section"}, {s.User, "user"},
	} {
		if u.set {
			return "", &Error{Field: u.field, Reason: fmt.Sprintf("%v in an .msi: it is a systemd or Linux package option", ErrUnsupported)}
		}
	}
	p, err := newPlan(s, "windows")
	if err != nil {
		return "", err
	}
	m := MSI{
		Name:         p.s.Name,
		Description:  p.s.Description,
		Version:      p.s.Version,
		Manufacturer: p.s.Maintainer,
		Program:      p.s.Binary,
		Args:         p.s.Args,
		Date:         p.date,
		Sign:         sign,
	}
	if p.wrap {
		m.Sole = p.s.Sole
	}
	for _, c := range p.s.Configs {
		m.Configs = append(m.Configs, MSIFile(c))
	}
	if _, err := planMSI(m); err != nil {
		// Bad input, not a failed build.
		return "", &Error{Field: "msi", Reason: strings.TrimPrefix(err.Error(), "packaging: msi: ")}
	}
	return BuildMSI(ctx, m, outDir)
}
