<?php
// Stand-in for Moodle's core_cache\config (see tests/realmoodle/standins/README.md).
//
// Reads the cache (MUC) configuration file that config_writer writes (moodledata/muc/config.php by
// default) and answers the questions the cache factory asks of it: which stores exist, which store
// serves a definition, which lock a store uses. config_writer (the subclass) fills and saves the
// same protected arrays, so their names and shapes are the contract.

namespace core_cache;

use core_cache\exception\cache_exception;

defined('MOODLE_INTERNAL') || die();

class config {
    /** @var array store name => store configuration (plugin, modes, features, lock, configuration...) */
    protected $configstores = [];
    /** @var array list of ['mode' => int, 'store' => name, 'sort' => int], highest sort first */
    protected $configmodemappings = [];
    /** @var array definition id => definition configuration from the components' db/caches.php */
    protected $configdefinitions = [];
    /** @var array list of ['definition' => id, 'store' => name, 'sort' => int], highest sort first */
    protected $configdefinitionmappings = [];
    /** @var array lock name => lock configuration */
    protected $configlocks = [];
    /** @var array kept for subclasses that set it */
    protected $configlockmappings = [];
    /** @var string|null the site identifier the configuration was saved with */
    protected $siteidentifier = null;

    public function __construct() {
    }

    /** The configuration instance, through the factory (which may hand out a disabled one). */
    public static function instance() {
        return factory::instance()->create_config_instance();
    }

    /** Whether the configuration file has been written yet. */
    public static function config_file_exists() {
        return file_exists(static::get_config_file_path());
    }

    /** Where the configuration file lives: $CFG->altcacheconfigpath when usable, else moodledata/muc/config.php. */
    protected static function get_config_file_path() {
        global $CFG;
        if (!empty($CFG->altcacheconfigpath)) {
            $path = $CFG->altcacheconfigpath;
            if (is_dir($path) && is_writable($path)) {
                return $path . '/cacheconfig.php';
            }
            if (is_writable(dirname($path)) && (!file_exists($path) || is_writable($path))) {
                return $path;
            }
        }
        return $CFG->dataroot . '/muc/config.php';
    }

    /** Load the file (or the given array) and keep only the entries that are well formed. */
    public function load($configuration = false) {
        global $CFG;
        if ($configuration === false) {
            $configuration = $this->include_configuration();
        }
        $this->configstores = [];
        $this->configdefinitions = [];
        $this->configlocks = [];
        $this->configmodemappings = [];
        $this->configdefinitionmappings = [];
        $this->configlockmappings = [];
        $this->siteidentifier = $configuration['siteidentifier'] ?? 'unknown';

        $defaultlock = null;
        foreach ($configuration['locks'] as $lock) {
            if (!is_array($lock) || !isset($lock['name']) || isset($this->configlocks[$lock['name']])) {
                continue;
            }
            $lock['default'] = !empty($lock['default']);
            if ($defaultlock === null || $lock['default']) {
                $defaultlock = $lock['name'];
            }
            $this->configlocks[$lock['name']] = $lock;
        }

        $plugins = helper::early_get_cache_plugins();
        foreach ($configuration['stores'] as $store) {
            if (!is_array($store) || !isset($store['name'], $store['plugin']) || !isset($plugins[$store['plugin']])) {
                continue;
            }
            $class = 'cachestore_' . $store['plugin'];
            $file = $CFG->dirroot . '/cache/stores/' . $store['plugin'] . '/lib.php';
            if (!class_exists($class) && file_exists($file)) {
                require_once($file);
            }
            if (!class_exists($class) || !is_subclass_of($class, store::class)) {
                continue;
            }
            $store['configuration'] = isset($store['configuration']) && is_array($store['configuration'])
                ? $store['configuration'] : [];
            $store['class'] = $class;
            $store['default'] = !empty($store['default']);
            if (!isset($store['lock']) || !isset($this->configlocks[$store['lock']])) {
                $store['lock'] = $defaultlock;
            }
            $this->configstores[$store['name']] = $store;
        }

        foreach ($configuration['definitions'] as $id => $definition) {
            if (!is_array($definition) || !isset($definition['mode'], $definition['component'], $definition['area'])) {
                continue;
            }
            $definition['mode'] = (int) $definition['mode'];
            if ($definition['mode'] < store::MODE_APPLICATION || $definition['mode'] > store::MODE_REQUEST) {
                continue;
            }
            if ($definition['mode'] !== store::MODE_APPLICATION) {
                // Session and request caches always use the default sharing.
                $definition['sharingoptions'] = definition::SHARING_DEFAULT;
                $definition['selectedsharingoption'] = definition::SHARING_DEFAULT;
                $definition['userinputsharingkey'] = '';
            } else {
                $definition += [
                    'sharingoptions' => definition::SHARING_DEFAULTOPTIONS,
                    'selectedsharingoption' => definition::SHARING_DEFAULT,
                    'userinputsharingkey' => '',
                ];
            }
            $this->configdefinitions[$id] = $definition;
        }

        foreach ($configuration['modemappings'] as $mapping) {
            if (!is_array($mapping) || !isset($mapping['mode'], $mapping['store'])
                    || !isset($this->configstores[$mapping['store']])) {
                continue;
            }
            $mapping['mode'] = (int) $mapping['mode'];
            if ($mapping['mode'] < 0 || $mapping['mode'] > 4) {
                continue;
            }
            $mapping['sort'] = $mapping['sort'] ?? 0;
            $this->configmodemappings[] = $mapping;
        }

        foreach ($configuration['definitionmappings'] as $mapping) {
            if (!is_array($mapping) || !isset($mapping['definition'], $mapping['store'])
                    || !isset($this->configstores[$mapping['store']])
                    || !isset($this->configdefinitions[$mapping['definition']])) {
                continue;
            }
            $mapping['sort'] = $mapping['sort'] ?? 0;
            $this->configdefinitionmappings[] = $mapping;
        }

        usort($this->configmodemappings, [$this, 'sort_mappings']);
        usort($this->configdefinitionmappings, [$this, 'sort_mappings']);
        return true;
    }

    /** The site identifier the configuration was saved with. */
    public function get_site_identifier() {
        return $this->siteidentifier;
    }

    /** The configuration array from the file, with every section present. */
    protected function include_configuration() {
        $configuration = [];
        $file = static::get_config_file_path();
        if (!file_exists($file)) {
            throw new cache_exception('Default cache config could not be found. It should have already been created by now.');
        }
        include($file);
        if (!is_array($configuration)) {
            throw new cache_exception('Invalid cache configuration file');
        }
        foreach (['stores', 'modemappings', 'definitions', 'definitionmappings', 'locks'] as $section) {
            if (!isset($configuration[$section]) || !is_array($configuration[$section])) {
                $configuration[$section] = [];
            }
        }
        return $configuration;
    }

    /** usort callback: the highest 'sort' first. */
    protected function sort_mappings(array $a, array $b) {
        return $b['sort'] <=> $a['sort'];
    }

    /** One definition by id, or false. */
    public function get_definition_by_id($id) {
        return $this->configdefinitions[$id] ?? false;
    }

    /** Every definition, by id. */
    public function get_definitions() {
        return $this->configdefinitions;
    }

    /** The definitions a store serves, through the mode mappings and the definition mappings; false for no such store. */
    public function get_definitions_by_store($storename) {
        if (!isset($this->configstores[$storename])) {
            return false;
        }
        $mapped = [];
        foreach ($this->configdefinitionmappings as $mapping) {
            $mapped[$mapping['definition']] = true;
        }
        $definitions = [];
        foreach ($this->configmodemappings as $mapping) {
            if ($mapping['store'] !== $storename) {
                continue;
            }
            foreach ($this->configdefinitions as $id => $definition) {
                if ($definition['mode'] === $mapping['mode'] && !isset($mapped[$id])) {
                    $definitions[$id] = $definition;
                }
            }
        }
        foreach ($this->configdefinitionmappings as $mapping) {
            if ($mapping['store'] === $storename && ($definition = $this->get_definition_by_id($mapping['definition']))) {
                $definitions[$mapping['definition']] = $definition;
            }
        }
        return $definitions;
    }

    /** The stores supporting the mode and every required feature. */
    public function get_stores($mode, $requirements = 0) {
        $stores = [];
        foreach ($this->configstores as $name => $store) {
            if (($store['modes'] & $mode) && ($store['features'] & $requirements) === $requirements) {
                $stores[$name] = $store;
            }
        }
        return $stores;
    }

    /** The stores a definition uses: its own mappings first, else the default stores of its mode. */
    public function get_stores_for_definition(definition $definition) {
        if (factory::instance()->stores_disabled()) {
            return [];
        }
        $available = $this->get_stores($definition->get_mode(), $definition->get_requirements_bin());
        $stores = [];
        foreach ($this->configdefinitionmappings as $mapping) {
            if ($mapping['definition'] === $definition->get_id() && isset($available[$mapping['store']])) {
                unset($stores[$mapping['store']]);
                $stores[$mapping['store']] = $available[$mapping['store']];
            }
        }
        if (empty($stores) && !$definition->is_for_mappings_only()) {
            foreach ($this->configmodemappings as $mapping) {
                $store = $available[$mapping['store']] ?? null;
                if ($mapping['mode'] === $definition->get_mode() && $store !== null && empty($store['mappingsonly'])) {
                    $stores[$mapping['store']] = $store;
                }
            }
        }
        return $stores;
    }

    /** Every configured store, by name. */
    public function get_all_stores() {
        return $this->configstores;
    }

    /** The mode mappings, highest sort first. */
    public function get_mode_mappings() {
        return $this->configmodemappings;
    }

    /** The definition mappings, highest sort first. */
    public function get_definition_mappings() {
        return $this->configdefinitionmappings;
    }

    /** Every lock, by name. */
    public function get_locks() {
        return $this->configlocks;
    }

    /** The lock a store uses, else the default lock. */
    public function get_lock_for_store($storename) {
        $lock = $this->configstores[$storename]['lock'] ?? null;
        if ($lock !== null && isset($this->configlocks[$lock])) {
            return $this->configlocks[$lock];
        }
        return $this->get_default_lock();
    }

    /** The lock marked default. */
    public function get_default_lock() {
        foreach ($this->configlocks as $lock) {
            if (!empty($lock['default'])) {
                return $lock;
            }
        }
        throw new cache_exception('ex_nodefaultlock');
    }
}

// Older code names it cache_config (lib/db/legacyclasses.php loads this file for that name).
class_alias(config::class, \cache_config::class);
