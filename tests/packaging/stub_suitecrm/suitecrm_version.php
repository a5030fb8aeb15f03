<?php
$suitecrm_version = '7.14.6';
