package packaging

import (
	"errors"
	"strings"
	"testing"
)

// A good export of each checked table for a plan, built by hand, and
// what the check says of broken ones (the check can fail).
func TestCheckTables(t *testing.T) {
	p := &msiPlan{
		Name: "myd", DisplayName: "myd", Version: "1.2.3", Manufacturer: "Acme", Arch: "x64", Win64: true,
		ProgramFilesFolder: "ProgramFiles64Folder", UpgradeCode: upgradeCode("myd"),
	}
	c := &msiComponent{ID: "ProgramComponent", GUID: "{11111111-1111-5111-8111-111111111111}", FileID: "Program", FileName: "myd.exe", Dir: "INSTALLDIR", size: 42, Win64: true}
	p.Root = &msiDir{ID: "INSTALLDIR", Name: "myd", Components: []*msiComponent{c}}
	p.Components = []*msiComponent{c}
	p.Service = &msiService{Component: c.ID, Name: "myd", DisplayName: "myd", Arguments: "run", Account: "LocalSystem"}
	c.Service = p.Service
	good := map[string]string{
		"ServiceInstall": "ServiceInstall\tName\tDisplayName\tServiceType\tStartType\tErrorControl\tLoadOrderGroup\tDependencies\tStartName\tPassword\tArguments\tComponent_\tDescription\r\n" +
			"s72\ts255\tL255\ti4\ti4\ti4\tS255\tS255\tS255\tS255\tS255\ts72\tL255\r\nServiceInstall\tServiceInstall\r\n" +
			"ServiceInstall\tmyd\tmyd\t16\t2\t1\t\t\tLocalSystem\t\trun\tProgramComponent\t\r\n",
		"ServiceControl": "ServiceControl\tName\tEvent\tArguments\tWait\tComponent_\r\ns72\tl255\ti2\tL255\tI2\ts72\r\nServiceControl\tServiceControl\r\n" +
			"ServiceControl\tmyd\t163\t\t1\tProgramComponent\r\n",
		"Component": "Component\tComponentId\tDirectory_\tAttributes\tCondition\tKeyPath\r\ns72\tS38\ts72\ti2\tS255\tS72\r\nComponent\tComponent\r\n" +
			"ProgramComponent\t{11111111-1111-5111-8111-111111111111}\tINSTALLDIR\t256\t\tProgram\r\n",
		"File": "File\tComponent_\tFileName\tFileSize\tVersion\tLanguage\tAttributes\tSequence\r\ns72\ts72\tl255\ti4\tS72\tS20\tI2\ti4\r\nFile\tFile\r\n" +
			"Program\tProgramComponent\tmyd.exe\t42\t\t\t512\t1\r\n",
		"Directory": "Directory\tDirectory_Parent\tDefaultDir\r\ns72\tS72\tl255\r\nDirectory\tDirectory\r\n" +
			"INSTALLDIR\tProgramFiles64Folder\tmyd\r\nProgramFiles64Folder\tTARGETDIR\t.\r\nTARGETDIR\t\tSourceDir\r\n",
		"Property": "Property\tValue\r\ns72\tl0\r\nProperty\tProperty\r\nALLUSERS\t1\r\nManufacturer\tAcme\r\nProductCode\t{3C75572E-FC55-462B-B7A4-4F4E1663BBC6}\r\n" +
			"ProductName\tmyd\r\nProductVersion\t1.2.3\r\nARPNOMODIFY\t1\r\nUpgradeCode\t" + p.UpgradeCode + "\r\n",
		"Upgrade": "UpgradeCode\tVersionMin\tVersionMax\tLanguage\tAttributes\tRemove\tActionProperty\r\ns38\tS20\tS20\tS255\ti4\tS255\ts72\r\nUpgrade\tUpgradeCode\tVersionMin\tVersionMax\tLanguage\tAttributes\r\n" +
			p.UpgradeCode + "\t\t1.2.3\t\t1\t\tWIX_UPGRADE_DETECTED\r\n" + p.UpgradeCode + "\t1.2.3\t\t\t2\t\tWIX_DOWNGRADE_DETECTED\r\n",
		"LaunchCondition":     "Condition\tDescription\r\ns255\tl255\r\nLaunchCondition\tCondition\r\nNOT WIX_DOWNGRADE_DETECTED\t" + downgradeMessage + "\r\n",
		"_SummaryInformation": "PropertyId\tValue\r\ni2\tl255\r\n_SummaryInformation\tPropertyId\r\n7\tx64;1033\r\n9\t{1F2440AA-370C-48E2-AC74-16778C3BD7C7}\r\n",
	}
	parse := func(m map[string]string) map[string]*idtTable {
		tables := map[string]*idtTable{}
		for name, s := range m {
			tb, err := parseIDT([]byte(s))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			tables[name] = tb
		}
		return tables
	}
	if err := checkTables(p, parse(good)); err != nil {
		t.Fatalf("good tables: %v", err)
	}
	header := func(table string) string {
		lines := strings.SplitAfter(good[table], "\r\n")
		return strings.Join(lines[:3], "")
	}
	tests := map[string]struct {
		table, export string
		want          string
	}{
		"empty ServiceControl": {"ServiceControl", header("ServiceControl"), "ServiceControl table: 0 rows, want 1 (wixl writes none for a ServiceControl without Id)"},
		"wrong events":         {"ServiceControl", strings.Replace(good["ServiceControl"], "\t163\t", "\t161\t", 1), `Event is "161", want "163"`},
		"no wait":              {"ServiceControl", strings.Replace(good["ServiceControl"], "\t1\tProgram", "\t0\tProgram", 1), `Wait is "0"`},
		"32-bit component":     {"Component", strings.Replace(good["Component"], "\t256\t", "\t0\t", 1), "component ProgramComponent lacks msidbComponentAttributes64bit (256)"},
		"no ServiceInstall":    {"ServiceInstall", header("ServiceInstall"), "ServiceInstall table: 0 rows, want 1"},
		"two ServiceInstalls":  {"ServiceInstall", good["ServiceInstall"] + strings.Replace(strings.SplitAfter(good["ServiceInstall"], "\r\n")[3], "ServiceInstall\t", "Other\t", 1), "2 rows"},
		"demand start":         {"ServiceInstall", strings.Replace(good["ServiceInstall"], "\t16\t2\t", "\t16\t3\t", 1), `StartType is "3", want "2"`},
		"other arguments":      {"ServiceInstall", strings.Replace(good["ServiceInstall"], "\trun\t", "\trun x\t", 1), `Arguments is "run x", want "run"`},
		"dropped name":         {"ServiceInstall", strings.Replace(good["ServiceInstall"], "ServiceInstall\tmyd\t", "ServiceInstall\t\t", 1), `Name is "", want "myd"`},
		"file size":            {"File", strings.Replace(good["File"], "\t42\t", "\t41\t", 1), `FileSize is "41", want "42"`},
		"missing file":         {"File", header("File"), "File table: 0 rows, want 1"},
		"x86 folder":           {"Directory", strings.Replace(good["Directory"], "INSTALLDIR\tProgramFiles64Folder", "INSTALLDIR\tProgramFilesFolder", 1), `INSTALLDIR is under "ProgramFilesFolder"`},
		"dropped product name": {"Property", strings.Replace(good["Property"], "ProductName\tmyd", "ProductName\t", 1), `ProductName is ""`},
		"no major upgrade":     {"Upgrade", header("Upgrade"), "no MajorUpgrade rows"},
		"no downgrade error":   {"LaunchCondition", header("LaunchCondition"), "no downgrade error"},
		"x86 summary":          {"_SummaryInformation", strings.Replace(good["_SummaryInformation"], "x64;1033", "Intel;1033", 1), `template (platform) is not "x64;1033"`},
		"table missing":        {"File", "", "File table: not in the package"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range good {
				m[k] = v
			}
			delete(m, tt.table)
			tables := parse(m)
			if tt.export != "" {
				tb, err := parseIDT([]byte(tt.export))
				if err != nil {
					t.Fatal(err)
				}
				tables[tt.table] = tb
			}
			err := checkTables(p, tables)
			var te *MSITableError
			if !errors.As(err, &te) || te.Table != tt.table || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want a one-line *MSITableError for %s with %q", err, tt.table, tt.want)
			}
		})
	}
	// x86: a 64-bit component is wrong too.
	p.Win64, c.Win64 = false, false
	m := map[string]string{}
	for k, v := range good {
		m[k] = v
	}
	m["_SummaryInformation"] = strings.Replace(good["_SummaryInformation"], "x64;1033", "Intel;1033", 1)
	m["Directory"] = strings.Replace(good["Directory"], "ProgramFiles64Folder", "ProgramFilesFolder", -1)
	p.ProgramFilesFolder = "ProgramFilesFolder"
	if err := checkTables(p, parse(m)); err == nil || !strings.Contains(err.Error(), "64-bit in a x86 package") {
		t.Errorf("a 64-bit component in a x86 package: %v", err)
	}
}
