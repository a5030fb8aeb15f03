<?php
class RepairAndClear
{
    public function repairAndClearAll($selected_actions, $modules, $autoexecute = false, $show_output = true)
    {
        stub_log(array('repair', $selected_actions, $modules, $autoexecute, $show_output));
        if ($autoexecute && !empty($GLOBALS['stub_pending'])) {
            $tables = array_merge(stub_tables(), $GLOBALS['stub_pending']);
            file_put_contents(getenv('STUB_LOG') . '.tables', json_encode($tables));
        }
    }
}
