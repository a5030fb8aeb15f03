<?php
// Stub of SuiteCRM's package scanner: reports the issue in $STUB_SCAN_ISSUE for every package.
class ModuleScanner
{
    private $issues = array();

    public function scanPackage($path)
    {
        stub_log(array('scan', $path));
        if (getenv('STUB_SCAN_ISSUE')) {
            $this->issues['file'][$path . '/manifest.php'] = array(getenv('STUB_SCAN_ISSUE'));
        }
    }

    public function getIssues()
    {
        return $this->issues;
    }
}
