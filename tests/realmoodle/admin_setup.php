<?php
// The test site's set-up, done the way lms_sync's README and `lms-sync check --help` tell an ENA
// administrator to do it, then the course an ENA teacher made by hand before lms_sync arrived.
//
//   php admin_setup.php <moodle config.php> <spec.json> <lms_sync-role.xml>  > site.json
//
// spec.json comes from tests/realmoodle/spec.py (lms_sync's own function list, the programme's
// session times, the students); the role preset is deploy/moodle/lms_sync-role.xml, imported as
// "Site administration > Users > Define roles > Add a new role > Input file" does. Prints what the
// tests need (tokens, ids) as JSON; progress goes to stderr.

define('CLI_SCRIPT', true);
[$script, $configfile, $specfile, $presetfile] = $argv;
require($configfile);
require_once($CFG->libdir . '/adminlib.php');
require_once($CFG->dirroot . '/admin/roles/classes/define_role_table_advanced.php');
require_once($CFG->dirroot . '/user/lib.php');
require_once($CFG->dirroot . '/course/lib.php');
require_once($CFG->dirroot . '/webservice/lib.php');
require_once($CFG->dirroot . '/calendar/lib.php');
require_once($CFG->libdir . '/completionlib.php');
require_once($CFG->dirroot . '/completion/criteria/completion_criteria_self.php');
require_once($CFG->dirroot . '/completion/completion_completion.php');
require_once($CFG->dirroot . '/completion/completion_criteria_completion.php');
require_once($CFG->dirroot . '/completion/completion_aggregation.php');

$spec = json_decode(file_get_contents($specfile), true, 512, JSON_THROW_ON_ERROR);
$preset = file_get_contents($presetfile);
\core\session\manager::set_user(get_admin());
$system = context_system::instance();

function progress(string $text): void {
    fwrite(STDERR, "admin_setup: $text\n");
}

function make_user(array $fields): int {
    global $CFG;
    $user = (object) ($fields + [
        'auth' => 'manual', 'confirmed' => 1, 'mnethostid' => $CFG->mnet_localhost_id,
        'password' => 'Sync-test-2020!', 'lang' => 'fr',
    ]);
    return user_create_user($user, true, false);
}

// The role from the shipped preset, as "Define roles > Add a new role" with the preset as "Input file",
// then "Create this role". The form's second step posts every capability shown, so save_changes()
// writes those that differ from the empty role; a CLI has no form, so the table is told which.
class preset_role_table extends core_role_define_role_table_advanced {
    public function import(string $xml): int {
        $before = $this->permissions;
        $this->force_preset($xml, array_fill_keys(['shortname', 'name', 'description', 'permissions', 'archetype',
            'contextlevels', 'allowassign', 'allowoverride', 'allowswitch', 'allowview'], 1));
        $this->changed = array_keys(array_diff_assoc($this->permissions, $before));
        if (!$this->is_submission_valid()) {
            throw new moodle_exception('invalidpresetfile', 'core_role', '', null, json_encode($this->errors));
        }
        $this->save_changes();
        return (int) $this->get_role_id();
    }
}

function import_role(string $xml): int {
    if (!core_role_preset::is_valid_preset($xml)) {
        throw new moodle_exception('invalidpresetfile', 'core_role');  // what the upload form says
    }
    return (new preset_role_table(context_system::instance(), 0))->import($xml);
}

// --- 3. the sync account and its role -----------------------------------------------------------
progress('sync account and role (from the preset)');
$syncid = make_user(['username' => 'lms-sync', 'firstname' => 'lms_sync', 'lastname' => 'Synchronisation',
    'email' => 'lms-sync@formation.example.invalid']);
$roleid = import_role($preset);
role_assign($roleid, $syncid, $system->id);

// An account with only what a REST token needs to log in and see courses: check must refuse it.
$limitedrole = create_role('REST only', 'lms_sync_rest_only', 'webservice/rest:use and moodle/course:view only');
set_role_contextlevels($limitedrole, [CONTEXT_SYSTEM]);
assign_capability('webservice/rest:use', CAP_ALLOW, $limitedrole, $system->id);
assign_capability('moodle/course:view', CAP_ALLOW, $limitedrole, $system->id);
$limitedid = make_user(['username' => 'lms-sync-limited', 'firstname' => 'Compte', 'lastname' => 'Limité',
    'email' => 'lms-sync-limited@formation.example.invalid']);
role_assign($limitedrole, $limitedid, $system->id);

// --- 4. the external service with lms_sync's functions ------------------------------------------
progress('external service with ' . count($spec['service']['functions']) . ' functions');
$ws = new webservice();
$serviceid = $ws->add_external_service((object) [
    'name' => $spec['service']['name'], 'shortname' => $spec['service']['shortname'],
    'enabled' => 1, 'restrictedusers' => 1, 'downloadfiles' => 0, 'uploadfiles' => 0,
]);
foreach ($spec['service']['functions'] as $function) {
    $ws->add_external_function_to_service($function, $serviceid);
}
foreach ([$syncid, $limitedid] as $userid) {
    $ws->add_ws_authorised_user((object) ['externalserviceid' => $serviceid, 'userid' => $userid]);
}
$service = $DB->get_record('external_services', ['id' => $serviceid], '*', MUST_EXIST);

// --- 5. tokens ----------------------------------------------------------------------------------
$tokens = [];
foreach (['sync' => $syncid, 'limited' => $limitedid] as $who => $userid) {
    $tokens[$who] = \core_external\util::generate_token(EXTERNAL_TOKEN_PERMANENT, $service, $userid, $system, 0, '',
        "lms_sync tests: $who");
}

// --- the course an ENA teacher made by hand, before lms_sync -------------------------------------
progress('hand-made category, course, events and ' . count($spec['students']) . ' students');
$hand = $spec['hand_made'];
$category = core_course_category::create(['name' => $hand['category_name'], 'parent' => 0]);
$course = create_course((object) [
    'category' => $category->id, 'shortname' => $hand['shortname'], 'fullname' => $hand['fullname'],
    'summary' => $hand['summary'], 'summaryformat' => FORMAT_HTML, 'enablecompletion' => 1,
    'startdate' => $hand['startdate'], 'enddate' => $hand['enddate'], 'format' => 'topics', 'numsections' => 4,
]);
$events = [];
foreach ($hand['events'] as $event) {
    $created = calendar_event::create((object) [
        'name' => $event['name'], 'description' => $event['description'], 'format' => FORMAT_HTML,
        'courseid' => $course->id, 'groupid' => 0, 'userid' => get_admin()->id, 'modulename' => '',
        'instance' => 0, 'eventtype' => 'course', 'timestart' => $event['timestart'],
        'timeduration' => $event['timeduration'], 'visible' => 1,
    ], false);
    $events[] = (int) $created->id;
}

// Completion: the participant ticks "I have completed this course" (self completion).
$criterion = new completion_criteria_self();
$selfconfig = (object) ['id' => $course->id, 'criteria_self' => 1];
$criterion->update_config($selfconfig);
$aggregation = new completion_aggregation(['course' => $course->id, 'criteriatype' => null]);
$aggregation->setMethod(COMPLETION_AGGREGATION_ALL);
$aggregation->save();

$manual = enrol_get_plugin('manual');
$instance = $DB->get_record('enrol', ['courseid' => $course->id, 'enrol' => 'manual'], '*', MUST_EXIST);
$studentrole = (int) $DB->get_field('role', 'id', ['shortname' => 'student'], MUST_EXIST);
$students = [];
$criterionid = (int) $DB->get_field('course_completion_criteria', 'id',
    ['course' => $course->id, 'criteriatype' => COMPLETION_CRITERIA_TYPE_SELF], MUST_EXIST);
foreach ($spec['students'] as $student) {
    $userid = make_user([
        'username' => $student['username'], 'firstname' => $student['firstname'], 'lastname' => $student['lastname'],
        'email' => $student['email'], 'institution' => $student['institution'],
        'department' => $student['department'], 'idnumber' => $student['idnumber'],
    ]);
    $manual->enrol_user($instance, $userid, $studentrole);
    if (!empty($student['completed_at'])) {
        $done = new completion_criteria_completion(['course' => $course->id, 'userid' => $userid,
            'criteriaid' => $criterionid]);
        $done->mark_complete($student['completed_at']);
        $completion = new completion_completion(['course' => $course->id, 'userid' => $userid]);
        $completion->mark_complete($student['completed_at']);
    }
    $students[$student['username']] = $userid;
}

echo json_encode([
    'url' => $CFG->wwwroot,
    'tokens' => $tokens,
    'role' => ['id' => $roleid, 'shortname' => $DB->get_field('role', 'shortname', ['id' => $roleid]),
               'limited_id' => (int) $limitedrole, 'student_id' => $studentrole],
    'accounts' => ['sync' => $syncid, 'limited' => $limitedid],
    'service' => ['id' => (int) $serviceid, 'shortname' => $service->shortname],
    'hand_made' => ['category_id' => (int) $category->id, 'course_id' => (int) $course->id, 'event_ids' => $events],
    'students' => $students,
], JSON_PRETTY_PRINT | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES) . "\n";
progress('done');
