<?php
// Stand-in for the V8 API's Slim application object ($GLOBALS['app'] in Api/index.php)
namespace Slim;

class App
{
}
