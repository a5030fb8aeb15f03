<?php
// Stub of SuiteCRM's upgrade_history bean: rows kept as JSON in $STUB_LOG.history.
class UpgradeHistory
{
    public $id;
    public $filename;
    public $md5sum;
    public $type;
    public $version;
    public $status;
    public $name;
    public $description;
    public $id_name;
    public $manifest;
    public $enabled = 1;
    public $date_entered;
    public $db;

    public function __construct()
    {
        $this->db = $GLOBALS['db'];
    }

    public static function rows()
    {
        $f = getenv('STUB_LOG') . '.history';
        return is_file($f) ? json_decode(file_get_contents($f), true) : array();
    }

    public static function store(array $rows)
    {
        file_put_contents(getenv('STUB_LOG') . '.history', json_encode($rows));
    }

    public function retrieve($id)
    {
        $rows = self::rows();
        foreach ($rows[$id] as $k => $v) {
            $this->$k = $v;
        }
        return $this;
    }

    public function save()
    {
        $rows = self::rows();
        if (empty($this->id)) {
            $this->id = 'uh' . (count($rows) + 1) . '-' . getmypid();
            $this->date_entered = date('Y-m-d H:i:s');
        }
        $data = get_object_vars($this);
        unset($data['db']);
        $rows[$this->id] = $data;
        self::store($rows);
        stub_log(array('upgrade_history save', $this->id_name, $this->version, $this->filename));
    }

    /** SuiteCRM 7.14.6's is_right_version_greater, unchanged (true when $right >= $left on the common prefix). */
    public function is_right_version_greater($left, $right, $equals_is_greater = true)
    {
        if (count($left) == 0 && count($right) == 0) {
            return $equals_is_greater;
        }
        if (count($left) == 0 || count($right) == 0) {
            return true;
        }
        if ($left[0] == $right[0]) {
            array_shift($left);
            array_shift($right);
            return $this->is_right_version_greater($left, $right, $equals_is_greater);
        }
        return $left[0] < $right[0];
    }

    /** SuiteCRM 7.14.6's checkDependencies: the id_names with no upgrade_history row passing the check. */
    public function checkDependencies($dependencies = array())
    {
        $not_found = array();
        foreach ($dependencies as $dependent) {
            $found = false;
            foreach (self::rows() as $row) {
                if ($row['id_name'] === $dependent['id_name']
                    && $this->is_right_version_greater(explode('.', $row['version']), explode('.', $dependent['version']))) {
                    $found = true;
                }
            }
            if (!$found) {
                $not_found[] = $dependent['id_name'];
            }
        }
        return $not_found;
    }

    public function delete()
    {
        $rows = self::rows();
        unset($rows[$this->id]);
        self::store($rows);
        stub_log(array('upgrade_history delete', $this->id_name, $this->version));
    }
}
