<?php
// Stub of SuiteCRM's zip helper: the real one is a thin wrapper of ZipArchive too.
function unzip($zip_archive, $zip_dir)
{
    $zip = new ZipArchive();
    if ($zip->open($zip_archive) !== true) {
        return false;
    }
    $ok = $zip->extractTo($zip_dir);
    $zip->close();
    return $ok;
}
