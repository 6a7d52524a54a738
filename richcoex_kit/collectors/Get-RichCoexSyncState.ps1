<# richcoex sync-server collector (read-only). Run as a local administrator on the DirSync / Azure AD Connect /
   Entra Connect server or on the Entra Cloud Sync agent host (Windows PowerShell 5.1 or later):
     powershell -ExecutionPolicy Bypass -File Get-RichCoexSyncState.ps1 -Out C:\Temp\richcoex-sync-state.json
   Prints one JSON document (schema richcoex.syncstate/2) and writes it to -Out (UTF-8).
   Anything this host lacks becomes null plus a note; nothing is changed. Sources (entra-docs, docs/identity/hybrid/):
   connect/how-to-connect-sync-feature-scheduler.md (Get-ADSyncScheduler, StagingModeEnabled),
   connect/how-to-connect-sync-staging-server.md (a staging server runs no exports),
   cloud-sync/how-to-troubleshoot.md (service AADConnectProvisioningAgent, its Log On account, the agent's folder),
   cloud-sync/gmsa-cloud-sync.md (the agent runs as a gMSA, domain\provAgentgMSA$),
   cloud-sync/exchange-hybrid.md (agent 1.1.1107.0 or later; the write-back switch lives in the portal, not here). #>
param([string]$Out = "richcoex-sync-state.json")
$ErrorActionPreference = 'Stop'
$notes = New-Object System.Collections.Generic.List[string]
function Ask([string]$command, [scriptblock]$block) {
    if (-not (Get-Command $command -ErrorAction SilentlyContinue)) { $notes.Add("$command is not available on this host"); return $null }
    try { return & $block } catch { $notes.Add("$command failed: $($_.Exception.Message)"); return $null }
}
foreach ($m in 'ADSync', 'DirSync') { Import-Module $m -ErrorAction SilentlyContinue }
$adsync = Get-Module ADSync
$key = Get-ItemProperty 'HKLM:\SOFTWARE\Microsoft\Azure AD Connect' -ErrorAction SilentlyContinue
$agent = Get-CimInstance Win32_Service -Filter "Name='AADConnectProvisioningAgent'" -ErrorAction SilentlyContinue
$product = if ($key) { [ordered]@{ id = 'connect'; name = 'Azure AD Connect'; version = "$($key.Version)" } }
    elseif ($adsync) { [ordered]@{ id = 'dirsync'; name = 'Azure AD Sync'; version = "$($adsync.Version)" } }
    elseif (Get-Module DirSync) { [ordered]@{ id = 'dirsync'; name = 'DirSync'; version = $null } }
    elseif ($agent) { [ordered]@{ id = 'cloudsync'; name = 'Entra Cloud Sync'; version = $null } } else { $null }
if ($key -and ("$($key.Version)" -as [version]) -ge [version]'2.1.20.0') { $product.name = 'Entra Connect Sync' }
$cloud = $null
if ($agent) {
    $exe = Join-Path $env:ProgramFiles 'Microsoft Azure AD Connect Provisioning Agent\AADConnectProvisioningAgent.exe'
    $cloud = [ordered]@{ agent_version = if (Test-Path $exe) { (Get-Item $exe).VersionInfo.ProductVersion } else { $null }
        service_account = $agent.StartName; service_state = $agent.State }
    if ($product.id -eq 'cloudsync') { $product.version = $cloud.agent_version }
    $notes.Add('Cloud Sync: Exchange hybrid writeback is set in the Entra admin center (configuration > Properties), not on this host')
}
$global = if ($adsync) { Ask 'Get-ADSyncGlobalSettings' { Get-ADSyncGlobalSettings } }
$hybrid = if ($global) { "$(($global.Parameters | Where-Object Name -eq 'Microsoft.OptionalFeature.HybridExchange').Value)" -eq 'True' }
    elseif (Get-Module DirSync) { Ask 'Get-MSOnlineRichCoexistence' { [bool](Get-MSOnlineRichCoexistence) } } else { $null }
$sched = if ($adsync) { Ask 'Get-ADSyncScheduler' { Get-ADSyncScheduler } }
$ad = if ($adsync) { Ask 'Get-ADSyncConnector' { Get-ADSyncConnector | Where-Object ConnectorTypeName -eq 'AD' } }
$connectors = @(foreach ($c in $ad) {   # foreach over $null runs no iteration: no connector without a name
    $p = @{}; $c.ConnectivityParameters | ForEach-Object { $p[$_.Name] = $_.Value }
    $account = if ($p['forest-login-user']) { "$($p['forest-login-domain'])\$($p['forest-login-user'])" } else { $null }
    [ordered]@{ name = $c.Name; forest = $p['forest-name']; account = $account } })

$errors = New-Object System.Collections.Generic.List[object]
$csexport = if ($adsync) { Join-Path (Split-Path $adsync.Path) '..\..\Bin\csexport.exe' }
if (-not $csexport -or -not (Test-Path $csexport)) { $errors = $null; $notes.Add('csexport.exe not found: export errors not read') }
foreach ($c in $(if ($null -ne $errors) { $connectors })) {
    $xml = Join-Path $env:TEMP "richcoex-$([guid]::NewGuid()).xml"
    & $csexport $c.name $xml /f:e | Out-Null
    if ($LASTEXITCODE -ne 0 -or -not (Test-Path $xml)) { $errors = $null; $notes.Add("csexport.exe $($c.name) exited $LASTEXITCODE"); break }
    foreach ($o in ([xml](Get-Content -LiteralPath $xml -Raw -Encoding UTF8)).SelectNodes('/cs-objects/cs-object')) {
        $e = $o.SelectSingleNode('export-errordetail/export-status/cd-error')
        $text = "$($e.'error-code') $($e.'error-literal') $($e.'server-error-detail')"
        $errors.Add([ordered]@{ connector = $c.name; dn = $o.GetAttribute('cs-dn')
            error_type = "$($o.SelectSingleNode('export-errordetail/@error-type').Value)"
            code = if ($text -match '\b(8344|00002098|0x80072098)\b') { 8344 } else { $null }
            error_code = "$($e.'error-code')"; message = "$($e.'error-literal')"; detail = "$($e.'server-error-detail')"
            attributes = @($o.SelectNodes('unapplied-export/delta/attr/@name') | ForEach-Object { $_.Value })
            time = "$($o.SelectSingleNode('export-errordetail/@date-occurred').Value)" }) }
    Remove-Item -LiteralPath $xml -ErrorAction SilentlyContinue
}
$doc = [ordered]@{ schema = 'richcoex.syncstate/2'; collected_at = (Get-Date).ToUniversalTime().ToString('o'); computer = $env:COMPUTERNAME
    product = $product; writeback = @{ hybrid_exchange = $hybrid }; staging = if ($sched) { [bool]$sched.StagingModeEnabled } else { $null }
    scheduler = if ($sched) { [ordered]@{ enabled = [bool]$sched.SyncCycleEnabled; cycle_in_progress = [bool]$sched.SyncCycleInProgress
        next_run = "$($sched.NextSyncCycleStartTimeInUTC)" } } else { $null }
    connectors = $connectors; cloud_sync = $cloud; export_errors = $errors; notes = $notes }
$json = $doc | ConvertTo-Json -Depth 6
Set-Content -LiteralPath $Out -Value $json -Encoding UTF8
$json
