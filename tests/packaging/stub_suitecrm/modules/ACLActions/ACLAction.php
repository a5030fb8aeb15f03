<?php
// Stub of SuiteCRM's ACLAction: records addActions calls (the real one inserts the module's 8 actions
// unless they exist).
class ACLAction
{
    public static function addActions($category, $type = 'module')
    {
        stub_log(array('acl actions', $category, $type));
    }
}
